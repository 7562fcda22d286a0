package cli

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestServeRedisLogsThroughSlog: what go-redis has to say (here: it cannot
// dial the broker) comes out on serve's stderr as one of Baton's own
// structured lines, at warn, with component=redis, not as go-redis' own
// "redis: 2026/11/30 pool.go:770: ..." line on the process's stderr.
func TestServeRedisLogsThroughSlog(t *testing.T) {
	var stderr syncBuffer // go-redis may log from goroutines of its own
	root := newRoot()
	root.SetArgs([]string{"serve", "--legacy", "127.0.0.1:0", "--broker", "redis://" + testenv.FreeAddr(t) + "/0"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := root.ExecuteContext(ctx); err == nil {
		t.Fatal("serve against a closed broker port returned nil")
	}
	line := regexp.MustCompile(`(?m)^time=\S+ level=WARN msg="connection pool: failed to dial[^"]*" component=redis$`)
	if !line.MatchString(stderr.String()) {
		t.Fatalf("serve's stderr holds no go-redis line as a structured warning:\n%s", stderr.String())
	}
}
