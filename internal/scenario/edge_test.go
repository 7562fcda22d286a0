package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// rawWS is a bare WebSocket to the gateway process, for sending what no
// well-behaved client would.
type rawWS struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, ctx context.Context, url string) *rawWS {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &rawWS{t: t, ws: ws}
}

// dialRawLegacy connects to /ws as user and reads the welcome frame.
func dialRawLegacy(t *testing.T, ctx context.Context, edgeAddr, user string) *rawWS {
	t.Helper()
	r := dialRaw(t, ctx, "ws://"+edgeAddr+"/ws?user="+user)
	if w := r.readLegacy(ctx); w.Type != legacy.TypeWelcome || w.Session == "" {
		t.Fatalf("first frame %+v, want welcome", w)
	}
	return r
}

func (r *rawWS) write(ctx context.Context, typ websocket.MessageType, s string) {
	r.t.Helper()
	if err := r.ws.Write(ctx, typ, []byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawWS) readText(ctx context.Context) string {
	r.t.Helper()
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *rawWS) readLegacy(ctx context.Context) legacy.Frame {
	r.t.Helper()
	b := r.readText(ctx)
	f, err := legacy.Decode([]byte(b))
	if err != nil {
		r.t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

func (r *rawWS) expectError(ctx context.Context, id uint64, code string) {
	r.t.Helper()
	if f := r.readLegacy(ctx); f.Type != legacy.TypeError || f.Code != code || f.ID != id || f.Message == "" {
		r.t.Fatalf("got %+v, want error %s for id %d", f, code, id)
	}
}

// readUntilClose reads until the connection ends and returns why.
func (r *rawWS) readUntilClose(ctx context.Context) error {
	for {
		if _, _, err := r.ws.Read(ctx); err != nil {
			return err
		}
	}
}

// edgeStats decodes the "edge" part of GET /api/v1/status.
type edgeStats struct {
	SlowConsumers uint64 `json:"slow_consumers"`
	TooLarge      uint64 `json:"too_large"`
	Unauthorized  uint64 `json:"unauthorized"`
	ErrorReplies  uint64 `json:"error_replies"`
}

func (c *cluster) edgeStats(t *testing.T) edgeStats {
	t.Helper()
	var st struct {
		Edge edgeStats `json:"edge"`
	}
	if err := c.adminJSON("GET", "/api/v1/status", "", 200, &st); err != nil {
		t.Fatal(err)
	}
	return st.Edge
}

// TestScenarioSlowConsumer: a legacy client that stops reading overflows
// its outbound queue at the gateway and is closed with 1008 slow_consumer;
// the other clients on the same channel, legacy and official Socket.IO,
// get every message.
func TestScenarioSlowConsumer(t *testing.T) {
	c := startCluster(t, clusterOptions{gateway: gatewayConfig{QueueMessages: 64, QueueBytes: 4 << 20}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	channels := c.channels(1)
	f := startFleets(t, ctx, c, 2, 2, channels, 1)

	slow := dialRawLegacy(t, ctx, c.edgeAddr, "slow")
	slow.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"`+channels[0]+`"}`)
	if a := slow.readLegacy(ctx); a.Type != legacy.TypeAck {
		t.Fatalf("subscribe answer %+v", a)
	}
	// From here on the slow client reads nothing: once the TCP buffers are
	// full its queue of 64 overflows. The pace keeps every other queue
	// (the backends' towards the gateway, the good clients') from doing so.
	big := []byte(`"` + strings.Repeat("x", 16<<10) + `"`)
	last := map[string]uint64{}
	var n int
	for ; n < 3000 && (n%50 != 0 || c.edgeStats(t).SlowConsumers == 0); n++ {
		m, err := c.broker.Publish(ctx, channels[0], big)
		if err != nil {
			t.Fatal(err)
		}
		last[channels[0]] = m.Seq
		time.Sleep(time.Millisecond)
	}
	if got := c.edgeStats(t).SlowConsumers; got != 1 {
		t.Fatalf("slow consumers %d after %d messages of 16 KiB, want 1", got, n)
	}
	t.Logf("slow consumer closed after %d messages of 16 KiB", n)
	err := slow.readUntilClose(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != legacy.ReasonSlowConsumer {
		t.Errorf("slow client ended with %v, want 1008 %s", err, legacy.ReasonSlowConsumer)
	}
	want := len(f.members)
	st := c.waitStatus(t, 10*time.Second, func(st admin.Status) bool { return st.Sessions.Blue == want })
	if st.Sessions.Detached != 0 {
		t.Errorf("sessions %+v", st.Sessions)
	}
	f.verify(t, last)
}

// TestScenarioBadInput sends bad frames and bad admin requests to the real
// gateway process: each gets a clear error, and a bystander client keeps
// its session and its messages.
func TestScenarioBadInput(t *testing.T) {
	c := startCluster(t, clusterOptions{gateway: gatewayConfig{MaxMessageBytes: 4096}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	channels := c.channels(1)
	f := startFleets(t, ctx, c, 1, 1, channels, 1)

	t.Run("legacy frames", func(t *testing.T) {
		r := dialRawLegacy(t, ctx, c.edgeAddr, "mallory")
		r.write(ctx, websocket.MessageText, `{"type":`)
		r.expectError(ctx, 0, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageText, "\xff\xfe")
		r.expectError(ctx, 0, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageBinary, `{"type":"ping","id":1}`)
		r.expectError(ctx, 0, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":2}`)
		r.expectError(ctx, 2, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":3,"channel":"`+strings.Repeat("x", 300)+`"}`)
		r.expectError(ctx, 3, legacy.CodeInvalidChannel)
		r.write(ctx, websocket.MessageText, `{"type":"publish","id":4,"channel":"a","data":}`)
		r.expectError(ctx, 0, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageText, `{"type":"ping","id":5}`)
		if p := r.readLegacy(ctx); p.Type != legacy.TypePong || p.ID != 5 {
			t.Fatalf("after bad frames: %+v, want pong 5", p)
		}
		// Oversized: closed with 1009.
		r.write(ctx, websocket.MessageText, `{"type":"publish","id":6,"channel":"a","data":"`+strings.Repeat("x", 5000)+`"}`)
		if got := websocket.CloseStatus(r.readUntilClose(ctx)); got != websocket.StatusMessageTooBig {
			t.Errorf("after an oversized frame: close status %d, want 1009", got)
		}
		// The edge counts the frame after the library has closed the
		// connection, so the client may see the close first.
		if !testenv.Poll(5*time.Second, func() bool { return c.edgeStats(t).TooLarge == 1 }) {
			t.Errorf("edge stats %+v, want TooLarge 1", c.edgeStats(t))
		}
	})

	t.Run("socket.io packets", func(t *testing.T) {
		r := dialRaw(t, ctx, "ws://"+c.edgeAddr+"/socket.io/?EIO=4&transport=websocket&user=mallory-sio")
		if open := r.readText(ctx); !strings.HasPrefix(open, `0{"sid":`) {
			t.Fatalf("open packet %q", open)
		}
		r.write(ctx, websocket.MessageText, "40")
		if conn := r.readText(ctx); !strings.HasPrefix(conn, `40{"sid":`) {
			t.Fatalf("connect answer %q", conn)
		}
		// A request with a bad argument gets an error ack; the socket stays.
		r.write(ctx, websocket.MessageText, `421["subscribe",{"channel":""}]`)
		if ack := r.readText(ctx); !strings.HasPrefix(ack, `431[{"error":"invalid_channel: `) {
			t.Errorf("ack of a bad subscribe %q", ack)
		}
		// An undecodable packet ends the connection, as the official
		// server does.
		r.write(ctx, websocket.MessageText, `42["subscribe",`)
		if err := r.readUntilClose(ctx); err == nil {
			t.Error("connection still open after a malformed packet")
		}
		// Oversized on a fresh connection: closed with 1009.
		r2 := dialRaw(t, ctx, "ws://"+c.edgeAddr+"/socket.io/?EIO=4&transport=websocket&user=mallory-sio2")
		r2.readText(ctx)
		r2.write(ctx, websocket.MessageText, "40")
		r2.readText(ctx)
		r2.write(ctx, websocket.MessageText, `42["publish",{"channel":"a","data":"`+strings.Repeat("x", 5000)+`"}]`)
		if got := websocket.CloseStatus(r2.readUntilClose(ctx)); got != websocket.StatusMessageTooBig {
			t.Errorf("socket.io oversized packet: close status %d, want 1009", got)
		}
	})

	t.Run("identity", func(t *testing.T) {
		for _, url := range []string{"ws://" + c.edgeAddr + "/ws", "ws://" + c.edgeAddr + "/socket.io/?EIO=4&transport=websocket"} {
			_, resp, err := websocket.Dial(ctx, url, nil)
			if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s without a user: %v %v, want 401", url, err, resp)
			}
		}
	})

	t.Run("admin", func(t *testing.T) {
		for _, tok := range []string{"", "wrong", adminToken + "x"} {
			code, body, err := c.adminDo("PUT", "/api/v1/weight", tok, `{"weight":100}`)
			if err != nil || code != http.StatusUnauthorized || !isJSONError(body) {
				t.Errorf("token %q: %d %s %v, want 401", tok, code, body, err)
			}
		}
		for _, body := range []string{`{"weight":101}`, `{"weight":-1}`, `{"weight":"50"}`, `{"weight":1e9}`, `{"weight":50`, `not json`, ``, `{}`, `{"weight":null}`} {
			code, b, err := c.adminDo("PUT", "/api/v1/weight", adminToken, body)
			if err != nil || code != http.StatusBadRequest || !isJSONError(b) {
				t.Errorf("PUT %q: %d %s %v, want 400 with an error", body, code, b, err)
			}
		}
		st, err := c.status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Weight != 0 || st.Moves.Done != 0 || st.Moves.Failed != 0 {
			t.Errorf("bad requests changed something: %+v", st)
		}
	})

	// The bystanders saw none of it.
	m, err := c.broker.Publish(ctx, channels[0], []byte(`"still here"`))
	if err != nil {
		t.Fatal(err)
	}
	c.checkSessions(t, f.members, allOn(router.Blue))
	f.verify(t, map[string]uint64{channels[0]: m.Seq})
}

func isJSONError(b []byte) bool {
	var v struct{ Error string }
	return json.Unmarshal(b, &v) == nil && v.Error != ""
}
