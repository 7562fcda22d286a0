package upstream_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// malformedMessages are "message" events (as Socket.IO EVENT packets)
// whose argument is not the channel message {"channel":C,"seq":N,"data":D}
// of the package documentation.
var malformedMessages = map[string]string{
	"negative seq":   `42["message",{"channel":"c","seq":-1,"data":1}]`,
	"string seq":     `42["message",{"channel":"c","seq":"7","data":1}]`,
	"fractional seq": `42["message",{"channel":"c","seq":1.5,"data":1}]`,
	"no channel":     `42["message",{"seq":1,"data":1}]`,
	"channel number": `42["message",{"channel":5,"seq":1,"data":1}]`,
	"no data":        `42["message",{"channel":"c","seq":1}]`,
	"no argument":    `42["message"]`,
	"not an object":  `42["message","hello"]`,
}

// A Socket.IO backend's "message" event that is not a channel message is
// the backend breaking its protocol, as the same frame is from a legacy
// backend: the connection ends with ErrProtocol, counted as
// ProtocolErrors, and nothing of it is handed on. Passed on as a custom
// event named "message", it reached a legacy client as a "message" frame
// its decoder rejects ({"type":"message","channel":"c","seq":-1,...}).
func TestSocketIOMalformedMessageIsProtocolError(t *testing.T) {
	for name, packet := range malformedMessages {
		t.Run(name, func(t *testing.T) {
			url := rawSocketIO(t, packet, `42["notice",{"n":1}]`)
			expectProtocolEnd(t, func(rec *health.Recorder) upstream.Dialer {
				return upstream.Observe(&upstream.SocketIODialer{Options: upstream.Options{URL: url}}, rec)
			})
		})
	}
}

// malformedLegacyMessages are message frames (type T) that are not the
// channel message {"type":T,"channel":C,"seq":N,"data":D}.
var malformedLegacyMessages = map[string]string{
	"negative seq":   `{"type":%q,"channel":"c","seq":-1,"data":1}`,
	"string seq":     `{"type":%q,"channel":"c","seq":"7","data":1}`,
	"fractional seq": `{"type":%q,"channel":"c","seq":1.5,"data":1}`,
	"no channel":     `{"type":%q,"seq":1,"data":1}`,
	"channel number": `{"type":%q,"channel":5,"seq":1,"data":1}`,
	"no data":        `{"type":%q,"channel":"c","seq":1}`,
}

// A legacy backend's malformed message frame ends the connection with
// ErrProtocol whatever the mapping names the message type: renamed
// ("msg"), it was passed on as a custom event "msg" (or, without data, as
// a message with data null), where the codec's "message" ended the
// connection.
func TestLegacyMalformedMessageIsProtocolError(t *testing.T) {
	for _, typ := range []string{"message", "msg"} {
		for name, format := range malformedLegacyMessages {
			t.Run(typ+"/"+name, func(t *testing.T) {
				url := rawLegacy(t, fmt.Sprintf(format, typ), `{"type":"notice","n":1}`)
				expectProtocolEnd(t, func(rec *health.Recorder) upstream.Dialer {
					return upstream.Observe(&upstream.LegacyDialer{Options: upstream.Options{URL: url, Mapping: upstream.Mapping{Message: typ}}}, rec)
				})
			})
		}
	}
}

// expectProtocolEnd dials through dial's dialer, observed by a fresh
// recorder, and checks that the backend's first frame (a malformed
// message) ends the connection with ErrProtocol, counted once as a
// protocol error, and that nothing of it is handed on.
func expectProtocolEnd(t *testing.T, dial func(*health.Recorder) upstream.Dialer) {
	t.Helper()
	rec := newMonitor(t)
	h := newRecorder()
	c, err := dial(rec).Dial(testenv.Context(t, 10*time.Second), h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.waitFor(t, "the close or an event", func(evs []upstream.Event, closed bool) bool { return closed || len(evs) > 0 })
	h.mu.Lock()
	events, closed, cause := h.events, h.closed, h.err
	h.mu.Unlock()
	for _, ev := range events {
		t.Errorf("handed on: kind %v name %q channel %q data %s args %q", ev.Kind, ev.Name, ev.Channel, ev.Data, ev.Args)
	}
	if !closed || !errors.Is(cause, upstream.ErrProtocol) {
		t.Fatalf("closed=%v cause %v, want the connection ended with ErrProtocol", closed, cause)
	}
	if got := rec.Snapshot().Counts; got.ProtocolErrors != 1 || got.AbnormalCloses != 0 {
		t.Fatalf("counts %+v, want one ProtocolErrors", got)
	}
}
