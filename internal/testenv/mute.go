package testenv

import (
	"net"
	"sync"
	"testing"
)

// MuteListener accepts TCP connections on loopback and never answers on
// them, as a backend process that hangs does (its kernel still completes
// the handshakes): a dial to it lasts until its caller gives up. It
// returns the address; the listener and its connections close when the
// test ends.
func MuteListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
