package redisbroker

// Prefix is the key prefix the broker uses.
func (b *Broker) Prefix() string { return b.opts.Prefix }

// HoldSubscriptions blocks every SUBSCRIBE/UNSUBSCRIBE and any reconnect of
// the pub/sub connection until the returned func is called, so that a test
// can publish while the broker is sure to be disconnected.
func (b *Broker) HoldSubscriptions() (release func()) {
	b.subMu.Lock()
	return b.subMu.Unlock
}

// SetResyncBatch sets how many history reads go in one pipeline when
// channels catch up after a reconnect; call it before the broker's first
// reconnect.
func (b *Broker) SetResyncBatch(n int) { b.resyncBatch = n }

// SetCatchUpBytes sets the payload bytes a pipelined catch-up reads per
// round trip, shared among its channels; call it before the broker's first
// reconnect.
func (b *Broker) SetCatchUpBytes(n int) { b.catchUpBytes = n }

// Barriers is how many PING barriers are waiting for their reply.
func (b *Broker) Barriers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.barriers)
}

// BreakPubSub makes every SUBSCRIBE/UNSUBSCRIBE/PING fail until the
// returned func is called, as after go-redis dropped a connection on a
// failed write while the reader was not reading it (the reader sees no
// error and does not reconnect). The reader keeps the connection it reads.
func (b *Broker) BreakPubSub() (restore func()) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	live := b.ps
	b.ps = b.rdb.Subscribe(b.ctx)
	_ = b.ps.Close()
	return func() {
		b.subMu.Lock()
		defer b.subMu.Unlock()
		b.ps = live
	}
}

// ReachWait is how long History tries a read that cannot reach Redis.
const ReachWait = reachWait

// HistoryPage is how many messages a catch-up reads from one channel's
// history at a time.
const HistoryPage = historyPage
