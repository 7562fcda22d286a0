package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A shutdown cuts short a weight change still moving sessions: the admin
// request's moves stop (it answers), instead of holding the shutdown while
// the edge keeps taking clients, and the clients are closed with 1001.
func TestShutdownCutsAWeightChangeShort(t *testing.T) {
	blue, green := testBackends(t)
	cfg := testConfig(blue, green, "")
	cfg.Handover.MovesPerSecond = 2 // 8 moves would take about 4s
	a := start(t, cfg, Options{ShutdownTimeout: 10 * time.Second})
	cs := clients(t, a.App, 8)

	answered := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut,
			"http://"+a.AdminAddr()+"/api/v1/weight", strings.NewReader(`{"weight":100}`))
		req.Header.Set("Authorization", "Bearer "+a.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		_ = resp.Body.Close()
		answered <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // a move or two done, the rest paced

	began := time.Now()
	a.stop()
	took := time.Since(began)
	if took > 2*time.Second {
		t.Errorf("shutdown took %v behind a weight change", took)
	}
	select {
	case code := <-answered:
		if code != http.StatusServiceUnavailable {
			t.Errorf("the interrupted weight change answered %d, want 503", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the weight change never answered")
	}
	for i, c := range cs {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("client %d still connected after the shutdown", i)
		}
		var ce websocket.CloseError
		if !errors.As(c.Err(), &ce) || ce.Code != websocket.StatusGoingAway {
			t.Errorf("client %d ended with %v, want a close 1001", i, c.Err())
		}
	}
}

// A keep-alive connection to the admin API or the edge that stays idle is
// closed after IdleTimeout: a peer gone without a FIN must not hold it.
func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{IdleTimeout: 300 * time.Millisecond})
	for name, addr := range map[string]string{"admin": a.AdminAddr(), "edge": a.EdgeAddr()} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Any answer will do: the connection is kept alive after it.
		if _, err := fmt.Fprintf(conn, "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", a.Token()); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.Close {
			t.Fatalf("%s: the server closed after the answer; nothing left to test", name)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		began := time.Now()
		if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: an idle connection read %v, want EOF (closed by the server)", name, err)
		}
		if took := time.Since(began); took < 200*time.Millisecond {
			t.Errorf("%s: closed after %v, before the idle timeout", name, took)
		}
	}
}
