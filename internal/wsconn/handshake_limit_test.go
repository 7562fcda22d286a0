package wsconn

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// A backend that answers the upgrade with an endless header line does not
// make Dial buffer all of it: the dial fails once maxHandshakeBytes are
// read, well before the 24 MiB sent here.
func TestDialBoundsTheAnswersHeader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const total = 24 << 20
	wrote := make(chan int, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			wrote <- 0
			return
		}
		defer conn.Close()
		_, _ = http.ReadRequest(bufio.NewReader(conn))
		n, _ := conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nX-Big: "))
		chunk := make([]byte, 64<<10)
		for i := range chunk {
			chunk[i] = 'a'
		}
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		for n < total {
			m, err := conn.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		wrote <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	c, err := Dial(ctx, "ws://"+ln.Addr().String()+"/", ClientOptions{})
	if err == nil {
		_ = c.CloseNow()
		t.Fatal("dial succeeded")
	}
	if !errors.Is(err, errHandshakeTooLarge) {
		t.Errorf("dial: %v, want errHandshakeTooLarge", err)
	}
	n := <-wrote
	if n >= total {
		t.Fatalf("the client read a %d MiB response header before giving up (err %v): unbounded", n>>20, err)
	}
}
