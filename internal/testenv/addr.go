package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback address nobody listens on right now: for a
// process or a config that needs a fixed port, or a dial that must fail.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}
