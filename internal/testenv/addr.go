package testenv

import (
	"testing"

	"github.com/baton-rt/baton/internal/freeport"
)

// FreeAddr returns a loopback address nobody listens on right now and no
// other call in this test binary returned: for a process or a config that
// needs a fixed port, or a dial that must fail.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
