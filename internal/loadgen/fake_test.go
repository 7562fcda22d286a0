package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeService is a minimal pub/sub service speaking both protocols, just
// enough of them to exercise the load generator end to end: Engine.IO
// open + heartbeat, namespace connect, subscribe with ack, HTTP publish.
type fakeService struct {
	refuse bool // answer subscribes with an error

	mu   sync.Mutex
	seq  int
	subs map[*websocket.Conn]Protocol
	wg   sync.WaitGroup
}

func startFake(t *testing.T, refuse bool) string {
	t.Helper()
	f := &fakeService{refuse: refuse, subs: map[*websocket.Conn]Protocol{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", f.socketIO)
	mux.HandleFunc("/ws", f.legacy)
	mux.HandleFunc("POST /api/v1/publish", f.publish)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		f.wg.Wait()
	})
	return ln.Addr().String()
}

func (f *fakeService) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil
	}
	f.wg.Add(1)
	return c
}

func (f *fakeService) done(c *websocket.Conn) {
	f.mu.Lock()
	delete(f.subs, c)
	f.mu.Unlock()
	c.CloseNow()
	f.wg.Done()
}

func (f *fakeService) socketIO(w http.ResponseWriter, r *http.Request) {
	c := f.accept(w, r)
	if c == nil {
		return
	}
	defer f.done(c)
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	if c.Write(ctx, websocket.MessageText, []byte(`0{"sid":"s","upgrades":[],"pingInterval":50,"pingTimeout":1000,"maxPayload":1000000}`)) != nil {
		return
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
		return
	}
	if c.Write(ctx, websocket.MessageText, []byte(`40{"sid":"n"}`)) != nil {
		return
	}
	go func() { // heartbeat, as Engine.IO servers do
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			c.Write(ctx, websocket.MessageText, []byte("2"))
		}
	}()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		s := string(b)
		if rest, ok := strings.CutPrefix(s, "42"); ok && strings.Contains(s, `"subscribe"`) {
			id := rest[:strings.IndexByte(rest, '[')]
			body := `[{"ok":true}]`
			if f.refuse {
				body = `[{"ok":false,"error":"no"}]`
			} else {
				f.mu.Lock()
				f.subs[c] = SocketIO
				f.mu.Unlock()
			}
			c.Write(ctx, websocket.MessageText, []byte("43"+id+body))
		}
	}
}

func (f *fakeService) legacy(w http.ResponseWriter, r *http.Request) {
	c := f.accept(w, r)
	if c == nil {
		return
	}
	defer f.done(c)
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	c.Write(ctx, websocket.MessageText, []byte(`{"type":"welcome","session":"S"}`))
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			Type string `json:"type"`
			ID   int    `json:"id"`
		}
		if json.Unmarshal(b, &req) != nil || req.Type != "subscribe" {
			continue
		}
		if f.refuse {
			c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"error","id":%d,"code":"internal","message":"no"}`, req.ID))
			continue
		}
		f.mu.Lock()
		f.subs[c] = Legacy
		f.mu.Unlock()
		c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"ack","id":%d}`, req.ID))
	}
}

func (f *fakeService) publish(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	body := fmt.Sprintf(`{"channel":%q,"seq":%d,"data":%s}`, msg.Channel, f.seq, msg.Data)
	for c, p := range f.subs {
		frame := `42["message",` + body + `]`
		if p == Legacy {
			frame = `{"type":"message",` + body[1:]
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		c.Write(ctx, websocket.MessageText, []byte(frame))
		cancel()
	}
	fmt.Fprintf(w, `{"seq":%s}`, strconv.Itoa(f.seq))
}
