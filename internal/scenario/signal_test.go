package scenario

import (
	"syscall"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// The first SIGINT starts a graceful drain, spread here over 20 s; a second
// one ends the process at once, as an operator pressing Ctrl-C twice
// expects, instead of being ignored until the drain is over.
func TestSecondInterruptEndsTheDrain(t *testing.T) {
	addr := testenv.FreeAddr(t)
	p := startProc(t, "serve", "legacy listening on", "serve", "--legacy", addr, "--drain", "20s")
	ctx := testenv.Context(t, 30*time.Second)
	for _, user := range []string{"a", "b", "c"} { // the drain closes them 10 s apart
		dialRawLegacy(t, ctx, addr, user)
	}
	p.signal(syscall.SIGINT)
	time.Sleep(500 * time.Millisecond)
	select {
	case <-p.done:
		t.Fatal("the process ended before its drain; the test proves nothing")
	default:
	}
	p.signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a second SIGINT did not end the draining process within 5 s")
	}
}
