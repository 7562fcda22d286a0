// Package sleep waits for a time or a context's end, whichever comes
// first: the one wait every loop with a period or a deadline needs.
package sleep

import (
	"context"
	"time"
)

// For waits d, or until ctx is done; then it returns ctx.Err().
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Until waits until at, or until ctx is done; a time already past
// returns at once with ctx.Err().
func Until(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err()
	}
	return For(ctx, d)
}
