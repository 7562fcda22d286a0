package sioclient

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// answerConnect is a fake server's script: the open packet, then answer
// to the client's CONNECT of "/", then it reads on.
func answerConnect(answer string) func(ctx context.Context, c *websocket.Conn) {
	return func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen)
		if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
			return
		}
		write(ctx, c, answer)
		drain(ctx, c)
	}
}

// An Emit racing Close: engine.send reads e.err
// once it sees closed under mu, so finish sets e.err under mu first (the
// race detector catches the other order).
func TestEmitDuringClose(t *testing.T) {
	url := fakeServer(t, answerConnect(`40{"sid":"a"}`))
	for range 20 {
		c, err := Dial(testenv.Context(t, 10*time.Second), url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Connect(testenv.Context(t, 10*time.Second), "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for s.Emit(context.Background(), "x", []byte("1")) == nil {
				}
			}()
		}
		close(start)
		time.Sleep(time.Millisecond)
		_ = c.Close()
		wg.Wait()
	}
}

// A server DISCONNECT for a namespace
// that is still waiting for its CONNECT answer ends the socket, and Connect
// returns at once rather than at its ctx.
func TestDisconnectWhileConnecting(t *testing.T) {
	url := fakeServer(t, answerConnect(`41`))
	c := dialFake(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Connect(ctx, "/", nil)
	if err == nil {
		t.Fatal("connect succeeded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Connect returned after %v (err %v): it waited for its ctx although the server had disconnected the namespace", d.Round(time.Millisecond), err)
	}
}
