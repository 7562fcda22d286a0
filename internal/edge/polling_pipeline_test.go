package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/wire/engineio"
)

// pollingSession is a raw Engine.IO long-polling session on the edge's
// Socket.IO listener, which posts what a client batches as the official
// client does: many packets in one POST.
type pollingSession struct {
	t   *testing.T
	ctx context.Context
	url string // with sid
}

func (s *pollingSession) do(method, body string) string {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.ctx, method, s.url, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s: %v", method, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		s.t.Fatalf("%s: %d %q %v", method, res.StatusCode, b, err)
	}
	return string(b)
}

// poll GETs once and returns the payload's packets.
func (s *pollingSession) poll() ([]engineio.Packet, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("poll: %d %q %v", res.StatusCode, b, err)
	}
	var ps []engineio.Packet
	for p, err := range engineio.Packets(b) {
		if err != nil {
			return nil, err
		}
		if p.Type == engineio.Close {
			return nil, fmt.Errorf("poll: the edge closed the session")
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// A Socket.IO client on long-polling that emits 2,000 publishes with
// acks at once on a channel it is subscribed to (one POST, as the official
// client sends them) gets every ack and every message, and stays
// connected: it polls all the while, so it is no slow consumer, though
// the answers are more than its outbound queue holds and it takes a
// while over each poll.
func TestSocketIOPollingPipelinedPublishes(t *testing.T) {
	const n = 2000
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := "http://" + addr + edge.SocketIOPath + "?EIO=4&user=u1&transport=polling"
	s := &pollingSession{t: t, ctx: ctx, url: base}
	open := s.do(http.MethodGet, "")
	var hs struct{ SID string }
	if err := json.Unmarshal([]byte(open[1:]), &hs); err != nil || hs.SID == "" {
		t.Fatalf("open packet %q: %v", open, err)
	}
	s.url = base + "&sid=" + hs.SID
	// until polls until a message packet starts with prefix.
	until := func(prefix string) {
		t.Helper()
		for {
			ps, err := s.poll()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Type == engineio.Message && strings.HasPrefix(string(p.Data), prefix) {
					return
				}
			}
		}
	}
	s.do(http.MethodPost, "40")
	until("0{")
	s.do(http.MethodPost, `420["subscribe",{"channel":"pipe"}]`)
	until("30[")

	type result struct {
		acks, msgs int
		err        error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for r.acks < n || r.msgs < n {
			ps, err := s.poll()
			if err != nil {
				r.err = err
				break
			}
			for _, p := range ps {
				d := string(p.Data)
				switch {
				case p.Type != engineio.Message:
				case strings.HasPrefix(d, "3"):
					if want := fmt.Sprintf(`3%d[{"ok":true,"seq":%d}]`, r.acks+1, r.acks+1); d != want {
						r.err = fmt.Errorf("ack %q, want %q", d, want)
					}
					r.acks++
				case strings.HasPrefix(d, `2["message"`):
					if want := fmt.Sprintf(`2["message",{"channel":"pipe","seq":%d,"data":%d}]`, r.msgs+1, r.msgs); d != want {
						r.err = fmt.Errorf("message %q, want %q", d, want)
					}
					r.msgs++
				}
			}
			if r.err != nil {
				break
			}
			// Like a busy page, the client takes its time over each poll
			// before the next, as the official client does over the
			// thousands of callbacks one poll may run.
			time.Sleep(100 * time.Millisecond)
		}
		done <- r
	}()
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "42" + strconv.Itoa(i+1) + `["publish",{"channel":"pipe","data":` + strconv.Itoa(i) + `}]`
	}
	s.do(http.MethodPost, strings.Join(parts, "\x1e"))
	r := <-done
	if r.err != nil {
		t.Fatalf("after %d acks and %d messages: %v (edge stats: %+v)", r.acks, r.msgs, r.err, ed.Stats())
	}
}
