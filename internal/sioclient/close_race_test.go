package sioclient

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
)

// An Emit racing Close: engine.send reads e.err
// once it sees closed under mu, so finish sets e.err under mu first (the
// race detector catches the other order).
func TestEmitDuringClose(t *testing.T) {
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, fakeOpen)
		if _, b, err := c.Read(ctx); err != nil || string(b) != "40" {
			return
		}
		write(ctx, c, `40{"sid":"a"}`)
		drain(ctx, c)
	})
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
