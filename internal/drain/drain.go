// Package drain ends a server's open connections gracefully: Spread
// closes them one by one over a period, so that their clients do not all
// reconnect in the same instant, and Wait waits for them to finish,
// cutting what is left once the caller's context ends. Conns does both,
// as every server's Shutdown needs.
package drain

import (
	"cmp"
	"context"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// Conns drains n connections: Spread closes them (closeConn) over period,
// then Wait waits for them to end (wait) and, once ctx ends, cuts each
// (cut) so that they do. It returns nil when every close came on schedule
// and every connection ended in time, otherwise ctx's error.
func Conns(ctx context.Context, period time.Duration, n int, closeConn, cut func(i int), wait func()) error {
	err := Spread(ctx, period, n, closeConn)
	werr := Wait(ctx, wait, func() {
		for i := range n {
			cut(i)
		}
	})
	return cmp.Or(werr, err)
}

// Spread calls closeConn(i) for i from 0 to n-1, in order, each at
// start + period*i/(n-1): the first at once, the last when period has
// passed. When ctx has a deadline, period is capped at half the time left
// before it, so that the last closes still have time to finish.
//
// Once ctx ends, Spread calls closeConn for every i still due at once,
// without waiting, and returns ctx's error. Nobody is left un-notified:
// a connection never closed would only be cut later without a word,
// while a close marks it as ended for the shutdown's reason and lets it
// try to send its close message before the caller cuts what is left.
// Spread returns nil when every close came on schedule.
func Spread(ctx context.Context, period time.Duration, n int, closeConn func(i int)) error {
	if dl, ok := ctx.Deadline(); ok {
		period = min(period, time.Until(dl)/2)
	}
	period = max(period, 0)
	start := time.Now()
	var err error
	for i := range n {
		if err == nil && n > 1 {
			err = sleep.Until(ctx, start.Add(offset(period, i, n-1)))
		}
		closeConn(i)
	}
	return err
}

// offset is period*i/steps without the product's overflow: a long period
// times many connections can pass the largest Duration. i <= steps.
func offset(period time.Duration, i, steps int) time.Duration {
	s := time.Duration(steps)
	return period/s*time.Duration(i) + period%s*time.Duration(i)/s
}

// Wait calls wait and returns nil once it has returned. If ctx ends
// first, it calls abort, which must make wait return soon (by cutting
// the connections wait waits for), then waits for wait to return and
// returns ctx's error.
func Wait(ctx context.Context, wait, abort func()) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	abort()
	<-done
	return ctx.Err()
}
