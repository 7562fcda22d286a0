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
