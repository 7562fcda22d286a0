package redisbroker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/baton-rt/baton/internal/broker"
)

// chanState is one channel this Broker is subscribed to in Redis.
type chanState struct {
	channel string
	pubsub  string
	subs    broker.Fanout // guarded by Broker.mu

	// ready is closed by the reader when the channel goes live (err nil)
	// or fails (err set before the close).
	ready chan struct{}
	err   error

	// Owned by the reader goroutine.
	live  bool
	last  uint64 // seq of the last message delivered (or known at go-live)
	epoch string
	stale bool // in Broker.stale
	// sum is the hash (Broker.seed) of the data of message last, when
	// summed: it was delivered, not only known at go-live. verify asks
	// the next history read to start at that message and check that it is
	// still the one delivered (set when the connection was replaced).
	sum            uint64
	summed, verify bool
}

// Subscribe implements broker.Broker. It returns once Redis has registered
// the subscription, so every message published afterwards is delivered.
func (b *Broker) Subscribe(ctx context.Context, channel string) (broker.Subscription, error) {
	if err := b.check(ctx, channel); err != nil {
		return nil, err
	}
	k := b.keys(channel)
	s := &subscription{b: b}

	if err := b.subMu.LockContext(ctx); err != nil {
		return nil, fmt.Errorf("redisbroker: subscribe to %q: %w", channel, err)
	}
	if b.closed.Load() {
		b.subMu.Unlock()
		return nil, broker.ErrClosed
	}
	b.mu.Lock()
	st, joined := b.chans[k.pubsub], true
	if st == nil {
		st, joined = &chanState{channel: channel, pubsub: k.pubsub, ready: make(chan struct{})}, false
		b.chans[k.pubsub] = st
	}
	s.st = st
	st.subs.Add(&s.Sink, b.opts.SubscriberBuffer)
	b.subs.Add(1)
	var token string
	if !joined {
		token = b.barrierLocked(st)
	}
	b.mu.Unlock()
	var err error
	if !joined {
		// The PING's reply comes after Redis has processed the SUBSCRIBE.
		if err = b.ps.Subscribe(ctx, k.pubsub); err == nil {
			err = b.ps.Ping(ctx, token)
		}
		if err != nil {
			// A barrier not sent gets no reply: drop it now, not at
			// the next reconnect (which may never come).
			b.mu.Lock()
			delete(b.barriers, token)
			b.mu.Unlock()
		}
		if err != nil && b.psDown {
			// The reader is between connections (Redis was down):
			// its next one subscribes st with the others and its
			// barrier makes st live, which the wait below sees.
			err = nil
		}
	}
	b.subMu.Unlock()

	if err == nil {
		select {
		case <-st.ready:
			err = st.err
		case <-ctx.Done():
			err = ctx.Err()
		case <-b.ctx.Done():
			err = broker.ErrClosed
		}
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("redisbroker: subscribe to %q: %w", channel, err)
	}
	return s, nil
}

// barrierLocked registers a PING payload whose reply makes st (or, for nil,
// every channel) catch up. b.mu and b.subMu must be held.
func (b *Broker) barrierLocked(st *chanState) string {
	b.nextToken++
	token := "b" + strconv.FormatUint(b.nextToken, 10)
	b.barriers[token] = st
	return token
}

// unsubscribeIfEmpty forgets st and UNSUBSCRIBEs once it has no subscribers.
func (b *Broker) unsubscribeIfEmpty(st *chanState) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	b.mu.Lock()
	empty := st.subs.Len() == 0 && b.chans[st.pubsub] == st
	if empty {
		delete(b.chans, st.pubsub)
	}
	b.mu.Unlock()
	if empty && !b.closed.Load() {
		// An error means the connection is broken; the reader replaces it
		// and subscribes only to the channels still in b.chans.
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
		_ = b.ps.Unsubscribe(ctx, st.pubsub)
		cancel()
	}
}

// subscription is a local broker.Subscription fed by the reader; its Sink
// lives in st.subs, guarded by b.mu.
type subscription struct {
	broker.Sink
	b  *Broker
	st *chanState
}

// Close ends the subscription; Err stays nil. Closing twice is a no-op.
func (s *subscription) Close() error {
	b := s.b
	b.mu.Lock()
	if !s.st.subs.Close(&s.Sink, nil) {
		b.mu.Unlock()
		return nil
	}
	b.subs.Add(-1)
	b.mu.Unlock()
	b.unsubscribeIfEmpty(s.st)
	return nil
}

// deliverLocked hands m to every subscription of st without waiting; a full
// buffer closes that subscription. It reports whether st has no subscribers
// left. b.mu must be held.
func (b *Broker) deliverLocked(st *chanState, m broker.Message) (empty bool) {
	if slow := st.subs.Deliver(m); slow > 0 {
		b.subs.Add(-int64(slow))
		b.stats.slow.Add(uint64(slow))
	}
	return st.subs.Len() == 0
}
