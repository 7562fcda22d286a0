package scenario

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// event draws and runs one fault. A weight change and a preparation run in
// the background (the next event may land while they move or dial); every
// other fault is over when event returns, so at most one backend (or
// Redis) is faulty at a time.
func (ch *chaos) event() string {
	t, c := ch.t, ch.c
	weights := []float64{0, 10, 25, 50, 75, 100}
	pick := func() float64 {
		for {
			if w := weights[ch.rng.IntN(len(weights))]; w != ch.issued {
				return w
			}
		}
	}
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+ch.rng.IntN(hi-lo)) * time.Millisecond }
	note := func(format string, args ...any) {
		s := fmt.Sprintf("%s +%s", fmt.Sprintf(format, args...), time.Now().Format("15:04:05.000"))
		ch.log = append(ch.log, s)
		t.Log("chaos: " + s)
	}
	switch k := ch.rng.IntN(10); k {
	case 0, 1, 2:
		w := pick()
		if ch.preparing >= 0 && ch.rng.IntN(2) == 0 {
			w = ch.preparing // the change prepared for (if not the weight in force)
		}
		ch.preparing = -1
		note("PUT %v", w)
		ch.put(w)
		return "weight"
	case 3:
		prev, w := ch.issued, pick()
		d := ms(100, 600)
		note("PUT %v then back to %v after %v", w, prev, d)
		ch.put(w)
		time.Sleep(d)
		ch.put(prev)
		return "reverse"
	case 4, 5:
		p, color := c.blue, "blue"
		if ch.rng.IntN(2) == 0 {
			p, color = c.green, "green"
		}
		d := ms(200, 2000)
		note("SIGKILL %s, down %v", color, d)
		p.kill()
		time.Sleep(d)
		if color == "blue" {
			c.restartBlue()
		} else {
			c.restartGreen()
		}
		return "kill"
	case 6:
		p, color := c.blue, "blue"
		if ch.rng.IntN(2) == 0 {
			p, color = c.green, "green"
		}
		d := ms(1000, 4000)
		if ch.rng.IntN(3) > 0 {
			note("SIGSTOP %s for %v", color, d)
			p.signal(syscall.SIGSTOP)
			time.Sleep(d)
			p.signal(syscall.SIGCONT)
			return "stop"
		}
		// Frozen, then dead: its sockets close only at the kill.
		note("SIGSTOP %s for %v, then SIGKILL and restart", color, d)
		p.signal(syscall.SIGSTOP)
		time.Sleep(d)
		p.kill()
		if color == "blue" {
			c.restartBlue()
		} else {
			c.restartGreen()
		}
		return "stop-kill"
	case 7:
		d := ms(200, 1500)
		note("restart Redis, down %v", d)
		ch.redis.restart(t, d)
		return "redis"
	default:
		// A preparation runs in the background: the faults that come
		// next may land on its dials, and a later weight change uses it
		// or not (weightEvent).
		w := pick()
		note("prepare %v", w)
		ch.preparing = w
		ch.puts.Add(1)
		go func() {
			defer ch.puts.Done()
			res, err := c.prepare(w)
			ch.mu.Lock()
			defer ch.mu.Unlock()
			ch.prepares = append(ch.prepares, fmt.Sprintf("prepare %v: %+v %v", w, res, err))
		}()
		return "prepare"
	}
}

// lateConn is one connect client drew: its client once connected, nil
// if it could not.
type lateConn struct {
	ready chan struct{} // closed once the connect is over
	c     *goClient
}

// client connects a legacy client in the background during the next
// event, or subscribes one connected so to one more channel: sessions
// attached and subscriptions made while moves, drops and re-attaches go
// on. Their streams are checked as the others'.
//
// What it draws depends on the seed alone, not on how many of the
// connects drawn before are over (the rng draws the events too: a seed
// replays the same ones); a subscribe waits for its client's connect.
func (ch *chaos) client(ctx context.Context, channels []string) {
	delay := time.Duration(ch.rng.IntN(1500)) * time.Millisecond
	perm := ch.rng.Perm(len(channels))
	k := len(ch.connects)
	connect := k == 0 || ch.rng.IntN(2) == 0
	pickC := ch.rng.IntN(max(k, 1))
	var conn *lateConn
	if connect {
		conn = &lateConn{ready: make(chan struct{})}
		ch.connects = append(ch.connects, conn)
	} else {
		conn = ch.connects[pickC]
	}
	ch.clients.Add(1)
	go func() {
		defer ch.clients.Done()
		_ = sleep.For(ctx, delay)
		if connect {
			defer close(conn.ready)
			spec := clientSpec{User: fmt.Sprintf("late-%d-%d", k, perm[0]), Channels: []string{channels[perm[0]], channels[perm[1]]}}
			lc, err := dialGo(ctx, ch.c.edgeAddr, spec)
			if err != nil { // its subscribes may meet a drop too: once more
				ch.t.Logf("connect %s: %v (retrying)", spec.User, err)
				_ = sleep.For(ctx, 500*time.Millisecond)
				lc, err = dialGo(ctx, ch.c.edgeAddr, spec)
			}
			ch.mu.Lock()
			defer ch.mu.Unlock()
			if err != nil {
				ch.lateErrs = append(ch.lateErrs, fmt.Sprintf("connect %s: %v", spec.User, err))
				return
			}
			ch.late = append(ch.late, lc)
			conn.c = lc
			return
		}
		select {
		case <-conn.ready:
		case <-ctx.Done():
			return
		}
		lc := conn.c
		if lc == nil { // its connect failed, which is reported
			return
		}
		lc.check.mu.Lock()
		var next string
		for _, p := range perm {
			if !slices.Contains(lc.check.channels, channels[p]) {
				next = channels[p]
				break
			}
		}
		if next == "" {
			lc.check.mu.Unlock()
			return
		}
		lc.check.mu.Unlock()
		// A subscribe in flight on a backend connection that drops is
		// sent again on the re-attached one, but gets an error reply when
		// no re-attach comes within its request timeout
		// (docs/architecture.md, "Requests"); the client is not
		// subscribed then and tries again, as a client would: up to three
		// times, since the schedule may kill both backends within one
		// retry's wait (a CI run's late client failed on green's SIGKILL,
		// then on blue's 500 ms later, before subscribes were carried
		// over).
		const attempts = 3
		for attempt := 0; ; attempt++ {
			lc.check.mu.Lock()
			lc.check.channels = append(lc.check.channels, next)
			lc.check.mu.Unlock()
			pos, err := lc.lc.Subscribe(ctx, next, nil)
			if err == nil {
				lc.check.acked(next, pos)
				return
			}
			lc.check.mu.Lock()
			lc.check.channels = slices.DeleteFunc(lc.check.channels, func(c string) bool { return c == next })
			early := lc.check.early[next]
			delete(lc.check.early, next)
			lc.check.mu.Unlock()
			ch.mu.Lock()
			if len(early) > 0 {
				ch.lateErrs = append(ch.lateErrs, fmt.Sprintf("%s: messages %v on %s, whose subscribe failed: %v", lc.spec.User, early, next, err))
			}
			if attempt == attempts-1 {
				ch.lateErrs = append(ch.lateErrs, fmt.Sprintf("%s subscribe %s, %d times: %v", lc.spec.User, next, attempts, err))
			}
			ch.mu.Unlock()
			if attempt == attempts-1 {
				return
			}
			ch.t.Logf("%s subscribe %s: %v (retrying)", lc.spec.User, next, err)
			_ = sleep.For(ctx, 500*time.Millisecond)
		}
	}()
}

// put changes the weight in the background and adds up the answer.
func (ch *chaos) put(w float64) {
	ch.issued, ch.preparing = w, -1
	ch.puts.Add(1)
	go func() {
		defer ch.puts.Done()
		res, err := ch.c.setWeight(w)
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if err != nil {
			ch.putErr = append(ch.putErr, fmt.Sprintf("PUT %v: %v", w, err))
			return
		}
		ch.moved += res.Moved
		ch.failed += res.Failed
	}()
}
