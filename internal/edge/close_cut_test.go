package edge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
)

// deafUntilCut reads br, a legacy client that never answers anything (a
// close frame included), until the server drops the connection, and
// returns how long that took and the close frame's code.
func deafUntilCut(t *testing.T, br *bufio.Reader) (time.Duration, websocket.StatusCode) {
	t.Helper()
	start := time.Now()
	code := websocket.StatusCode(-1)
	for {
		op, p, err := readServerFrame(br)
		if err != nil {
			took := time.Since(start)
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("read until the server's cut: %v (after %v)", err, took)
			}
			return took, code
		}
		if op == 0x8 && len(p) >= 2 {
			code = websocket.StatusCode(binary.BigEndian.Uint16(p))
		}
	}
}

// TestLegacyCloseCutsAClientThatDoesNotAnswerWithinTheWriteTimeout: the
// close of a legacy client that never answers the close frame (here a
// shutdown's 1001; a slow consumer's 1008 goes the same way) waits for
// its close frame at most the write timeout, then cuts the socket. The
// bound's CloseNow did nothing once Close had begun (coder/websocket's
// CloseNow only waits for the Close in progress), so every such close
// held the socket, the writer's goroutine and Shutdown for the library's
// 5 s whatever the write timeout.
func TestLegacyCloseCutsAClientThatDoesNotAnswerWithinTheWriteTimeout(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	const limit = writeTimeout + time.Second // and scheduling slack
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond, WriteTimeout: writeTimeout})
	_, br := rawLegacy(t, addr, "deaf")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := make(chan error, 1)
	start := time.Now()
	go func() { res <- ed.Shutdown(ctx) }()
	took, code := deafUntilCut(t, br)
	if code != websocket.StatusGoingAway {
		t.Errorf("close code %v, want %v", code, websocket.StatusGoingAway)
	}
	if took > limit {
		t.Errorf("the close held the socket %v, want at most %v (write timeout %v)", took.Round(time.Millisecond), limit, writeTimeout)
	}
	if err := <-res; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > limit {
		t.Errorf("Shutdown took %v, want at most %v", d.Round(time.Millisecond), limit)
	}
}

// TestShutdownPastItsDeadlineCutsAClosingClient: when Shutdown's ctx ends
// while a legacy client that never answers the close frame is in its
// close handshake, the connection is cut and Shutdown returns with ctx's
// error. Its cut was websocket.Conn.CloseNow, which waits for the Close
// in progress: Shutdown overran its deadline by up to the library's 5 s.
func TestShutdownPastItsDeadlineCutsAClosingClient(t *testing.T) {
	const deadline = 200 * time.Millisecond
	const limit = deadline + time.Second                                         // and scheduling slack
	ed, _, addr := startEdgeWith(t, edge.Options{DrainPeriod: time.Millisecond}) // the default write timeout, 10 s
	_, br := rawLegacy(t, addr, "deaf")

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	res := make(chan error, 1)
	start := time.Now()
	go func() { res <- ed.Shutdown(ctx) }()
	err := <-res
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want %v", err, context.DeadlineExceeded)
	}
	if took > limit {
		t.Errorf("Shutdown returned %v after it began, want at most %v (its deadline %v)", took.Round(time.Millisecond), limit, deadline)
	}
	if held, code := deafUntilCut(t, br); code != websocket.StatusGoingAway {
		t.Errorf("close code %v (connection ended %v after Shutdown returned), want %v", code, held, websocket.StatusGoingAway)
	}
}

// heldDialer holds each dial until release is closed, then dials d.
type heldDialer struct {
	upstream.Dialer
	dialing chan struct{}
	release chan struct{}
}

func (h heldDialer) Dial(ctx context.Context, hd upstream.Handler) (upstream.Conn, error) {
	select {
	case h.dialing <- struct{}{}:
	default:
	}
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.Dialer.Dial(ctx, hd)
}

// TestUpgradeDuringShutdownClosesWithinTheWriteTimeout: a legacy client
// whose upgrade completes after Shutdown began is closed with 1001 at
// once; when it never answers the close frame, the socket is cut after
// the write timeout like any other close. It was closed with an unbounded
// websocket.Conn.Close, which waits 5 s for the client's close frame,
// holding the request's goroutine and Shutdown (which waits for it, and
// cannot cut it: the connection is in no set of the edge's).
func TestUpgradeDuringShutdownClosesWithinTheWriteTimeout(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	const limit = writeTimeout + time.Second // and scheduling slack
	held := heldDialer{dialing: make(chan struct{}, 1), release: make(chan struct{})}
	ed, _, addr := startEdgeDialing(t, edge.Options{DrainPeriod: time.Millisecond, WriteTimeout: writeTimeout}, nil,
		func(d upstream.Dialer) upstream.Dialer { held.Dialer = d; return held })

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s?user=late HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", edge.LegacyPath, addr)
	<-held.dialing // the request is attaching its session

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() { res <- ed.Shutdown(ctx) }()
	testenv.Eventually(t, "Shutdown to refuse new clients", 5*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + edge.LegacyPath + "?user=probe")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	start := time.Now()
	close(held.release)

	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	_, code := deafUntilCut(t, br)
	took := time.Since(start) // from the attach's release
	if code != websocket.StatusGoingAway {
		t.Errorf("close code %v, want %v", code, websocket.StatusGoingAway)
	}
	if took > limit {
		t.Errorf("the close held the socket %v after the attach, want at most %v (write timeout %v)", took.Round(time.Millisecond), limit, writeTimeout)
	}
	if err := <-res; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
