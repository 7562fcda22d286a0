package gwbench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestRelayCopiesBothWaysAndStops: bytes go through unchanged in both
// directions, each side's end reaches the other, and canceling the
// context ends Relay with the connections it held.
func TestRelayCopiesBothWaysAndStops(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	// The upstream's first connection gets everything it was sent back
	// reversed once the client has finished; later ones are echoed.
	go func() {
		for first := true; ; first = false {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func(first bool) {
				defer c.Close()
				if !first {
					_, _ = io.Copy(c, c)
					return
				}
				b, _ := io.ReadAll(c)
				for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
					b[i], b[j] = b[j], b[i]
				}
				_, _ = c.Write(b)
			}(first)
		}
	}()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() { ended <- Relay(ctx, ln, up.Addr().String()) }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := bytes.Repeat([]byte("0123456789"), 5000) // several reads' worth
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(msg)
	for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
		want[i], want[j] = want[j], want[i]
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes back, want the %d sent, reversed", len(got), len(msg))
	}

	// A connection held open is closed when the relay stops.
	held := holdThrough(t, ln.Addr().String())
	cancel()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("Relay after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Relay did not end after cancel")
	}
	wantClosed(t, held)
}

// TestRelayReturnsWhenItsListenerFails: a listener that fails for
// another reason than the context ends Relay with the error, and the
// connections it held are closed, not left to hang.
func TestRelayReturnsWhenItsListenerFails(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- Relay(context.Background(), ln, up.Addr().String()) }()
	held := holdThrough(t, ln.Addr().String())
	_ = ln.Close()
	select {
	case err := <-ended:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Relay after its listener closed: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Relay did not end when its listener failed")
	}
	wantClosed(t, held)
}

// holdThrough opens a connection through the relay at addr to an echoing
// upstream and checks that a byte makes the round trip.
func holdThrough(t *testing.T, addr string) net.Conn {
	t.Helper()
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	_ = held.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(held, make([]byte, 1)); err != nil {
		t.Fatalf("echo through the relay: %v", err)
	}
	return held
}

// wantClosed fails t unless the relay closed c (its read ends other than
// by c's deadline).
func wantClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a held connection stayed open after the relay stopped: %v", err)
	}
}
