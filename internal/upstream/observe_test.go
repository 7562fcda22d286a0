package upstream_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

func newMonitor(t *testing.T) *health.Recorder {
	t.Helper()
	m, err := health.New(health.Config{Window: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m.Backend(router.Green)
}

// TestObserveCounts drives each operation through an observed (and, for
// the faults, injected) dialer against both reference services and checks
// what lands in the recorder.
func TestObserveCounts(t *testing.T) {
	b := newBroker(t)
	for name, be := range map[config.Protocol]*backendtest.Backend{
		config.ProtocolLegacy:   backendtest.Legacy(t, b),
		config.ProtocolSocketIO: backendtest.SocketIO(t, b),
	} {
		t.Run(string(name), func(t *testing.T) {
			ctx := testenv.Context(t, 20*time.Second)
			rec := newMonitor(t)
			d := upstream.Observe(upstream.Inject(be.Dialer(), upstream.Faults{ErrorRate: 1}), rec)
			h := newRecorder()
			c, err := d.Dial(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Subscribe(ctx, "obs", 0, false); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Publish(ctx, "obs", []byte(`1`)); !upstream.IsCode(err, upstream.CodeInjected) {
				t.Fatalf("publish: %v, want the injected fault", err)
			}
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			_, _ = c.Subscribe(canceled, "gone", 0, false) // not the backend's doing: uncounted
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			_, _ = c.Subscribe(ctx, "late", 0, false) // on a closed conn: uncounted

			s := rec.Snapshot()
			want := health.Counts{Requests: 3, ErrorReplies: 1}
			if s.Counts != want {
				t.Errorf("counts %+v, want %+v", s.Counts, want)
			}
			if s.Latency[health.Handshake].Count != 1 || s.Latency[health.SubscribeAck].Count != 1 {
				t.Errorf("latencies: handshake %d, subscribe %d, want 1 each",
					s.Latency[health.Handshake].Count, s.Latency[health.SubscribeAck].Count)
			}
		})
	}
}

// TestObserveFailures: a slow backend's ack timeout, a killed backend's
// abnormal close and a refused dial each count once.
func TestObserveFailures(t *testing.T) {
	b := newBroker(t)
	be := backendtest.Legacy(t, b)
	ctx := testenv.Context(t, 20*time.Second)
	rec := newMonitor(t)
	d := upstream.Observe(upstream.Inject(be.Dialer(), upstream.Faults{Latency: time.Hour}), rec)
	h := newRecorder()
	c, err := d.Dial(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Publish(short, "obs", []byte(`1`)); err == nil {
		t.Fatal("publish beat an hour of latency")
	}
	be.Kill()
	h.waitFor(t, "the close", func(_ []upstream.Event, closed bool) bool { return closed })
	if _, err := d.Dial(ctx, newRecorder()); err == nil {
		t.Fatal("dialed a killed backend")
	}
	_ = c.Close()

	want := health.Counts{Requests: 3, AckTimeouts: 1, AbnormalCloses: 1, DialFailures: 1}
	if got := rec.Snapshot().Counts; got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestObserveHungBackendDial: a backend that accepts TCP and never
// answers the handshake fails every dial, and each counts as a handshake
// failure, also when the caller's deadline (a move's handover.timeout,
// 5 s as the dial timeout by default, and started first) ends it rather
// than the dial's own timeout. A caller that cancels is not counted.
func TestObserveHungBackendDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted, never answered
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-accepted
		for _, c := range held {
			_ = c.Close()
		}
	})
	const timeout = 300 * time.Millisecond
	rec := newMonitor(t)
	d := upstream.Observe(&upstream.SocketIODialer{Options: upstream.Options{URL: "http://" + ln.Addr().String() + "/socket.io/", DialTimeout: timeout}}, rec)
	ctx, cancel := context.WithTimeout(testenv.Context(t, 20*time.Second), timeout)
	defer cancel()
	if _, err := d.Dial(ctx, newRecorder()); err == nil {
		t.Fatal("dialed a backend that never answers")
	}
	gone, stop := context.WithCancel(testenv.Context(t, 20*time.Second))
	time.AfterFunc(timeout/3, stop)
	if _, err := d.Dial(gone, newRecorder()); err == nil {
		t.Fatal("dialed a backend that never answers")
	}
	want := health.Counts{Requests: 1, HandshakeFailures: 1}
	if got := rec.Snapshot().Counts; got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}
