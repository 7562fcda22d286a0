package service

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

func TestFaultsRefuseSpread(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		n    int
		want int
	}{{0, 100, 0}, {0.05, 100, 5}, {0.05, 99, 4}, {0.5, 10, 5}, {1, 7, 7}, {0.03, 1000, 30}} {
		f := &Faults{ErrorRate: tc.rate}
		got := 0
		for range tc.n {
			if f.refuse() {
				got++
			}
		}
		if got != tc.want {
			t.Errorf("rate %v over %d requests: %d refused, want %d", tc.rate, tc.n, got, tc.want)
		}
	}
	var none *Faults
	if none.refuse() {
		t.Error("nil Faults refused a request")
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, f := range []*Faults{{Latency: -1}, {ErrorRate: -0.1}, {ErrorRate: 1.5}} {
		if err := f.Validate(); !errors.Is(err, ErrInvalidLimits) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidLimits", f, err)
		}
	}
	b := newBroker(t, membroker.Options{})
	if _, err := NewSocketIO(SocketIOConfig{Faults: &Faults{ErrorRate: 2}}, b); !errors.Is(err, ErrInvalidLimits) {
		t.Errorf("NewSocketIO with a bad fault: %v", err)
	}
}

// With ErrorRate 0.5 every second publish is refused; with Latency every
// reply, refusal or ack, comes no sooner than the delay.
func TestFaultsSocketIOPublish(t *testing.T) {
	const delay = 60 * time.Millisecond
	env := startSocketIO(t, SocketIOConfig{Faults: &Faults{ErrorRate: 0.5, Latency: delay}}, membroker.Options{})
	c := env.dialSIO(t)
	for i, want := range []string{`[{"ok":true,"seq":1}]`, `[{"error":"internal: injected fault"}]`, `[{"ok":true,"seq":2}]`} {
		start := time.Now()
		got := c.request("publish", `{"channel":"f","data":1}`)
		if got != want {
			t.Errorf("publish %d: ack %s, want %s", i, got, want)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("publish %d answered after %s, before the injected %s", i, took, delay)
		}
	}
}

func TestFaultsLegacyPublish(t *testing.T) {
	const delay = 60 * time.Millisecond
	b := newBroker(t, membroker.Options{})
	l, err := NewLegacy(newHub(t, b, HubOptions{}), LegacyOptions{
		Limits: Limits{DrainPeriod: 10 * time.Millisecond},
		Faults: &Faults{ErrorRate: 0.5, Latency: delay},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := serveCrashable(t, l.Handler(), l.Shutdown).url
	c, err := legacyclient.Dial(testenv.Context(t, 30*time.Second), url, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	start := time.Now()
	if seq, err := c.Publish(testenv.Context(t, 30*time.Second), "f", []byte(`1`)); err != nil || seq != 1 {
		t.Fatalf("first publish: seq %d, %v", seq, err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("ack after %s, before the injected %s", took, delay)
	}
	var se *legacyclient.ServerError
	if _, err := c.Publish(testenv.Context(t, 30*time.Second), "f", []byte(`2`)); !errors.As(err, &se) || se.Code != legacy.CodeInternal {
		t.Fatalf("second publish: %v, want an internal error", err)
	}
	if _, pos, err := b.History(testenv.Context(t, 30*time.Second), "f", 0, 0); err != nil || pos.Seq != 1 {
		t.Errorf("history at %d (%v): the refused publish must not be stored", pos.Seq, err)
	}
}

// Crash cuts live WebSocket connections (hijacked, so http.Server no
// longer tracks them) and refuses new ones.
func TestCrashListener(t *testing.T) {
	b := newBroker(t, membroker.Options{})
	l, err := NewLegacy(newHub(t, b, HubOptions{}), LegacyOptions{Limits: Limits{DrainPeriod: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveCrashable(t, l.Handler(), l.Shutdown)
	c, err := legacyclient.Dial(testenv.Context(t, 30*time.Second), srv.url, legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(testenv.Context(t, 30*time.Second), "x", nil); err != nil {
		t.Fatal(err)
	}

	srv.ln.Crash()
	srv.ln.Crash() // idempotent
	if !srv.ln.Crashed() {
		t.Error("Crashed = false after Crash")
	}
	select {
	case <-c.Done():
		if c.Err() == nil {
			t.Error("connection ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after Crash")
	}
	ctx, cancel := context.WithTimeout(testenv.Context(t, 30*time.Second), 2*time.Second)
	defer cancel()
	if c2, err := legacyclient.Dial(ctx, srv.url, legacyclient.Options{}); err == nil {
		_ = c2.Close()
		t.Error("dial after Crash succeeded")
	}
}

type crashServer struct {
	ln  *CrashListener
	url string
}

// serveCrashable serves h on a CrashListener and stops it at cleanup.
func serveCrashable(t *testing.T, h http.Handler, drain func(context.Context) error) crashServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewCrashListener(raw)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = drain(ctx)
		_ = srv.Shutdown(ctx)
		ln.Crash()
		<-done
	})
	return crashServer{ln: ln, url: "ws://" + strings.TrimPrefix(raw.Addr().String(), "http://") + LegacyPath}
}

// CrashReset ends connections with a TCP reset, and Open counts the
// connections accepted and not yet closed.
func TestCrashListenerReset(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewCrashListener(raw)
	defer ln.Crash()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if sc, ok := <-accepted; !ok || sc == nil {
		t.Fatal("accept failed")
	}
	if n := ln.Open(); n != 1 {
		t.Errorf("Open = %d before the crash, want 1", n)
	}
	ln.CrashReset()
	if n := ln.Open(); n != 0 {
		t.Errorf("Open = %d after the crash, want 0", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after CrashReset: %v, want a connection reset", err)
	}
}
