package gwbench

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

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
	})
}

// TestClientAgainstLegacyService runs clients and the publisher against the
// reference legacy service on loopback.
func TestClientAgainstLegacyService(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	hub := service.NewHub(b, service.HubOptions{})
	defer hub.Close()
	l, err := service.NewLegacy(hub, service.LegacyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: l.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = l.Shutdown(ctx)
	}()
	addr := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := &sink{}
	clients, err := connectAll(ctx, newDialer(addr, s), 0, 4, 2, true)
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
	got, err := clients[0].request(ctx, func(id int64) []byte { return publishFrame(id, "t", 100) })
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != last+1 {
		t.Fatalf("ack seq %d, want %d", got.seq, last+1)
	}
	want := int64(len(clients) * (n + 1))
	for i := 0; i < 200 && s.delivered.Load() < want; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if d := s.delivered.Load(); d != want {
		t.Fatalf("delivered %d, want %d", d, want)
	}
	for i, c := range clients {
		if tr := c.snapshot(); tr.last != last+1 || tr.dup != 0 || tr.gap != 0 {
			t.Fatalf("client %d: %+v", i, tr)
		}
	}
}
