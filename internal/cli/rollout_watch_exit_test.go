package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/baton-rt/baton/internal/testenv"
)

// runBaton runs the command line as Execute does, under ctx (its end is a
// Ctrl-C), with stdout and stderr apart, in the background.
func runBaton(ctx context.Context, args ...string) (stdout, stderr *syncBuffer, code chan int) {
	stdout, stderr, code = &syncBuffer{}, &syncBuffer{}, make(chan int, 1)
	go func() { code <- execute(ctx, args, stdout, stderr) }()
	return stdout, stderr, code
}

func exited(t *testing.T, code chan int) int {
	t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("baton did not exit")
		return -1
	}
}

// TestWatchInterruptedQuietly: Ctrl-C ends watch without an error message,
// with 130, the shells' code for an interrupted command; not 0, which
// says the rollout completed.
func TestWatchInterruptedQuietly(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	url, stop := adminOn(t, "127.0.0.1:0", shiftingRollout(t), nil)
	defer stop(true)
	for _, flags := range [][]string{nil, {"--json"}} {
		ctx, cancel := context.WithCancel(context.Background())
		stdout, stderr, code := runBaton(ctx, append([]string{"rollout", "watch", "--admin", url, "--token", cliToken}, flags...)...)
		testenv.Eventually(t, "a metrics line", 5*time.Second, func() bool {
			return strings.Contains(stdout.String(), "metrics") || strings.Contains(stdout.String(), "shifting step 1/2")
		})
		cancel() // Ctrl-C
		if c := exited(t, code); c != exitInterrupted || stderr.String() != "" {
			t.Errorf("watch %v interrupted: exit %d, stderr %q", flags, c, stderr)
		}
	}
}
