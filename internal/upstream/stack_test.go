package upstream_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wsconn"
)

// TestIdleReaderKeepsTheSmallestStack: an idle legacy connection's reader
// parks on the smallest goroutine stack (2 KiB), not the next size up.
// The gateway holds one such reader per session, so a deeper park costs
// every idle session 2 KiB. The backend here holds its connections with
// no goroutine of its own, so the stacks measured are the readers'.
//
// Without the race detector only: it deepens every frame.
func TestIdleReaderKeepsTheSmallestStack(t *testing.T) {
	if testenv.Race {
		t.Skip("the race detector changes stack sizes")
	}
	const conns = 200
	addr, held := idleLegacyBackend(t)
	d := &upstream.LegacyDialer{Options: upstream.Options{URL: "ws://" + addr + "/ws"}}

	before := stackInuse()
	var open []upstream.Conn
	t.Cleanup(func() {
		// The backend's end first: a Close would wait for its close frame.
		for _, c := range held() {
			_ = c.Close()
		}
		for _, c := range open {
			_ = c.Close()
		}
	})
	dialAll(t, d, conns, &open)
	time.Sleep(100 * time.Millisecond) // every reader parked
	checkStackPerConn(t, before, conns, "")
}

// TestIdleReaderParksAgainAfterItsHeartbeat: an idle legacy connection
// is pinged every PingInterval, and its reader, woken by the backend's
// pong, parks again on the smallest stack, as it does after a message:
// the heartbeat must not leave every idle session's reader blocked deep
// in a read (a larger stack, and a read buffer held).
//
// Without the race detector only: it deepens every frame.
func TestIdleReaderParksAgainAfterItsHeartbeat(t *testing.T) {
	if testenv.Race {
		t.Skip("the race detector changes stack sizes")
	}
	const conns = 200
	addr, held := idleLegacyBackend(t)
	d := &upstream.LegacyDialer{Options: upstream.Options{URL: "ws://" + addr + "/ws",
		PingInterval: 50 * time.Millisecond, PingTimeout: time.Minute}}

	before := stackInuse()
	var open []upstream.Conn
	var backend []net.Conn
	t.Cleanup(func() {
		for _, c := range append(backend, held()...) {
			_ = c.Close()
		}
		for _, c := range open {
			_ = c.Close()
		}
	})
	dialAll(t, d, conns, &open)
	for deadline := time.Now().Add(5 * time.Second); len(backend) < conns && time.Now().Before(deadline); {
		backend = append(backend, held()...)
	}
	// Each connection's ping (masked, no payload), answered with a pong.
	for i, c := range backend {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var ping [6]byte
		if _, err := io.ReadFull(c, ping[:]); err != nil || ping[0] != 0x89 || ping[1] != 0x80 {
			t.Fatalf("connection %d: read % x, %v; want a masked ping without payload", i, ping, err)
		}
		if _, err := c.Write([]byte{0x8a, 0x00}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // every reader parked again
	checkStackPerConn(t, before, conns, " after its heartbeat")
	for _, c := range open {
		select {
		case <-c.Done():
			t.Fatalf("a connection ended: %v", c.Err())
		default:
		}
	}
}

// dialAll dials n connections with d, each with 5s to open, onto open
// (where the test's cleanup closes them, those of a failed run too).
func dialAll(t *testing.T, d upstream.Dialer, n int, open *[]upstream.Conn) {
	t.Helper()
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := d.Dial(ctx, newRecorder())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		*open = append(*open, c)
	}
}

// checkStackPerConn fails the test when conns connections, each with its
// reader parked, added more than 3 KiB of stack each to before (the
// smallest stack is 2 KiB); when says after what.
func checkStackPerConn(t *testing.T, before uint64, conns int, when string) {
	t.Helper()
	perConn := float64(stackInuse()-before) / float64(conns)
	t.Logf("stack per idle connection%s: %.0f bytes", when, perConn)
	if perConn > 3<<10 {
		t.Errorf("an idle reader holds %.0f bytes of stack%s; want the smallest stack, 2 KiB", perConn, when)
	}
}

// stackInuse is the bytes of goroutine stacks in use, after collections
// that shrink what can shrink.
func stackInuse() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

// idleLegacyBackend accepts WebSocket connections and greets each with a
// welcome frame, on one goroutine, then holds them without reading;
// held returns them.
func idleLegacyBackend(t *testing.T) (addr string, held func() []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if greet(c) != nil {
				_ = c.Close()
				continue
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String(), func() []net.Conn {
		var out []net.Conn
		for {
			select {
			case c := <-conns:
				out = append(out, c)
			default:
				return out
			}
		}
	}
}

// greet answers the upgrade and sends the welcome frame.
func greet(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	welcome := legacy.Append(nil, legacy.Frame{Type: legacy.TypeWelcome, Session: "s"})
	frame := append([]byte(head), wsconn.AppendFrameHeader(nil, 0x1, len(welcome))...)
	_, err = c.Write(append(frame, welcome...))
	_ = c.SetDeadline(time.Time{})
	return err
}
