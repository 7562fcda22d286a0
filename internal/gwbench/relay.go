package gwbench

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// Relay is the least a proxy written in Go can do: it copies bytes both
// ways between each accepted connection and one it dials to upstream,
// with plain read(2) and write(2) on Go's poller, parsing nothing. Set in
// NGINX's place, it shows which part of the gateway's cost is the
// runtime's and which the gateway's own. It serves until ctx ends, then
// closes every connection.
func Relay(ctx context.Context, ln net.Listener, upstream string) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		pairs = map[net.Conn]net.Conn{} // client -> its upstream, while relayed
	)
	// hold registers a pair, unless the relay is stopping: then the
	// caller closes it itself.
	hold := func(c, u net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		pairs[c] = u
		return true
	}
	release := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		delete(pairs, c)
	}
	// Every way out of Relay passes through ctx's end, which closes the
	// listener and every pair held.
	context.AfterFunc(ctx, func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c, u := range pairs {
			_ = c.Close()
			_ = u.Close()
		}
	})
	var d net.Dialer
	for {
		c, err := ln.Accept()
		if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
			// Out of descriptors for now, as net/http's server: wait
			// for connections to end rather than give up.
			if sleep.For(ctx, 10*time.Millisecond) == nil {
				continue
			}
		}
		if err != nil {
			cancel() // closes every connection
			wg.Wait()
			if parent.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			u, err := d.DialContext(ctx, "tcp", upstream)
			if err != nil {
				return
			}
			defer u.Close()
			if !hold(c, u) {
				return
			}
			defer release(c)
			done := make(chan struct{})
			go func() {
				defer close(done)
				pump(u, c)
				closeWrite(u)
			}()
			pump(c, u)
			closeWrite(c)
			<-done
		}()
	}
}

// pump copies src to dst with read(2) and write(2); io.Copy between two
// TCP sockets would splice instead, which no parsing proxy can do.
func pump(dst, src net.Conn) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// closeWrite passes the end of one direction on to the other side.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}
