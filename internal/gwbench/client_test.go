package gwbench

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/loadgen/drive"
	"github.com/baton-rt/baton/internal/service"
)

func msgFrame(seq, ts int64) []byte {
	return []byte(`{"type":"message","channel":"c","seq":` + strconv.FormatInt(seq, 10) +
		`,"data":{"ts":` + strconv.FormatInt(ts, 10) + `,"pad":"x"}}`)
}

func TestObserveCountsGapsDuplicatesAndPauses(t *testing.T) {
	s := &sink{}
	s.track.Store(true)
	c := &client{sink: s, acks: make(chan reply, 4)}
	c.tr.last = -1
	c.subID.Store(7)
	base := time.UnixMicro(1_000_000_000_000_000)
	c.handle([]byte(`{"type":"ack","id":7,"seq":10}`), base)
	if got := c.snapshot().last; got != 10 {
		t.Fatalf("last after ack = %d, want 10", got)
	}
	s.window.Store(windowMove)
	// 11 on time (latency 100µs), 12 delayed by 30ms, 12 again, 15 (13, 14 missing).
	c.handle(msgFrame(11, base.UnixMicro()), base.Add(100*time.Microsecond))
	c.handle(msgFrame(12, base.UnixMicro()+1000), base.Add(1000*time.Microsecond+30*time.Millisecond+100*time.Microsecond))
	c.handle(msgFrame(12, base.UnixMicro()+1000), base.Add(40*time.Millisecond))
	c.handle(msgFrame(15, base.UnixMicro()+50_000), base.Add(50*time.Millisecond+100*time.Microsecond))
	tr := c.snapshot()
	if tr.got != 4 || tr.dup != 1 || tr.gap != 2 || tr.last != 15 {
		t.Fatalf("track = %+v, want got 4 dup 1 gap 2 last 15", tr)
	}
	if want := int64(30_000); tr.jump[windowMove-1] != want {
		t.Fatalf("pause = %dµs, want %d", tr.jump[windowMove-1], want)
	}
	if tr.jump[windowBaseline-1] != 0 {
		t.Fatalf("baseline pause = %d, want 0", tr.jump[windowBaseline-1])
	}
	if s.delivered.Load() != 4 {
		t.Fatalf("delivered = %d", s.delivered.Load())
	}
}

func FuzzFrameFields(f *testing.F) {
	f.Add([]byte(`{"type":"message","channel":"c","seq":42,"data":{"ts":1732870000000000,"pad":"x"}}`))
	f.Add([]byte(`{"type":"ack","id":3,"seq":41}`))
	f.Add([]byte(`{"type":"error","id":5,"code":"bad_request","message":"x"}`))
	f.Add([]byte(`{"type":"welcome","session":"S"}`))
	f.Add([]byte(`{"type":"`))
	f.Add([]byte(`"seq":99999999999999999999999`))
	f.Add([]byte(`42["message",{"channel":"c","seq":7,"data":{"ts":1732870000000000,"pad":"x"}}]`))
	f.Add([]byte(`437[{"ok":true,"seq":8}]`))
	f.Add([]byte(`438[{"error":"bad_request: x"}]`))
	f.Add([]byte(`43`))
	f.Fuzz(func(t *testing.T, b []byte) {
		switch frameType(b) {
		case "", "message", "ack", "error", "welcome", "other":
		default:
			t.Fatalf("unexpected type for %q", b)
		}
		for _, k := range [][]byte{keySeq, keyID, keyTS} {
			if n, ok := drive.IntAfter(b, k); n < 0 || (!ok && n != 0) {
				t.Fatalf("intAfter(%q, %q) = %d, %v", b, k, n, ok)
			}
		}
		s := &sink{}
		s.track.Store(true)
		s.window.Store(windowMove)
		c := &client{sink: s, acks: make(chan reply, 1), msgs: make(chan time.Time, 1)}
		c.tr.last = -1
		c.handle(b, time.Now()) // must not panic
		// Read as Socket.IO too, but a ping, which would be answered on
		// the socket this client lacks.
		if string(b) != "2" {
			c.sio = true
			c.handle(b, time.Now())
		}
	})
}

// TestClientAgainstReferenceServices runs clients and the publisher on
// loopback against the reference legacy service, and Socket.IO clients
// against the reference Socket.IO service.
func TestClientAgainstReferenceServices(t *testing.T) {
	for _, sio := range []bool{false, true} {
		name := "legacy"
		if sio {
			name = "socketio"
		}
		t.Run(name, func(t *testing.T) {
			b, err := membroker.New(membroker.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			h, shutdown := referenceService(t, b, sio)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				_ = shutdown(ctx)
			}()
			checkClients(t, Target{Addr: ln.Addr().String(), SocketIO: sio})
		})
	}
}

// referenceService returns the handler of the reference legacy or
// Socket.IO service over b, and its shutdown.
func referenceService(t *testing.T, b broker.Broker, sio bool) (http.Handler, func(context.Context) error) {
	t.Helper()
	quick := service.Limits{DrainPeriod: time.Millisecond} // the clients are gone by then
	if sio {
		s, err := service.NewSocketIO(service.SocketIOConfig{Limits: quick}, b)
		if err != nil {
			t.Fatal(err)
		}
		return s.Handler(), s.Shutdown
	}
	hub := service.NewHub(b, service.HubOptions{})
	l, err := service.NewLegacy(hub, service.LegacyOptions{Limits: quick})
	if err != nil {
		t.Fatal(err)
	}
	return l.Handler(), func(ctx context.Context) error {
		err := l.Shutdown(ctx)
		hub.Close()
		return err
	}
}

// checkClients subscribes clients of target to one channel, publishes over
// HTTP and over a client's socket, and checks the ack's seq and that every
// client got every message once, in order.
func checkClients(t *testing.T, target Target) {
	addr := target.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := &sink{}
	clients, err := connectAll(ctx, dialerFor(target, s), 0, 4, 2, true)
	defer closeAll(s, clients)
	if err != nil {
		t.Fatal(err)
	}
	if err := subscribeAll(ctx, clients, func(int) string { return "t" }, 2); err != nil {
		t.Fatal(err)
	}
	s.track.Store(true)
	pub := newPublisher("http://"+addr+"/api/v1/publish", 100, 2)
	defer pub.close()
	const n = 5
	var last int64
	for range n {
		if last, err = pub.publish(ctx, "t"); err != nil {
			t.Fatal(err)
		}
	}
	// A publish request over the socket is acked.
	c0 := clients[0]
	got, err := c0.request(ctx, func(id int64) []byte { return c0.publishFrame(id, "t", 100) })
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != last+1 {
		t.Fatalf("ack seq %d, want %d", got.seq, last+1)
	}
	// A refused request is an error answer.
	if _, err := c0.request(ctx, func(id int64) []byte { return c0.requestFrame("subscribe", id, "") }); !errors.Is(err, ErrRefused) {
		t.Fatalf("subscribe to the empty channel: %v, want ErrRefused", err)
	}
	want := int64(len(clients) * (n + 1))
	for i := 0; i < 200 && s.delivered.Load() < want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if d := s.delivered.Load(); d != want {
		t.Fatalf("delivered %d, want %d", d, want)
	}
	for i, c := range clients {
		if tr := c.snapshot(); tr.last != last+1 || tr.dup != 0 || tr.gap != 0 || tr.got != n+1 {
			t.Fatalf("client %d: %+v", i, tr)
		}
	}
}
