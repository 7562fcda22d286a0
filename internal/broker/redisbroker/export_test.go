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
