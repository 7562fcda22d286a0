// Package membroker is the embedded, in-process broker.Broker: the default
// when Baton runs on one machine.
//
// Each channel keeps its sequence counter, a ring of its last HistorySize
// messages and its subscriptions behind its own mutex, so publishers on
// different channels never contend. Publish assigns the seq, stores the
// message and hands it to every subscription while holding that mutex; this
// is what makes seq order and delivery order the same thing.
//
// The epoch is one random id per Broker: a new Broker (a restarted process)
// has lost all history, so all of its channels start a new epoch.
//
// Channels are never dropped once created (dropping one would restart its seq
// inside the same epoch). Their number is bounded by MaxChannels instead:
// publishing to or subscribing to one channel more fails with
// ErrTooManyChannels. History of an unknown channel does not create it.
//
// Lock order: Broker.mu (only on channel creation) before channel.mu before
// subscription.mu.
package membroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/broker"
)

// Defaults for the zero values of Options.
const (
	DefaultHistorySize      = 1000
	DefaultSubscriberBuffer = 1024
	DefaultMaxChannels      = 100_000
)

// ErrTooManyChannels is returned when a new channel would exceed MaxChannels.
var ErrTooManyChannels = errors.New("membroker: too many channels")

// Options configures a Broker. The zero value is ready to use.
type Options struct {
	// HistorySize is how many of its newest messages each channel retains
	// for History. Zero means DefaultHistorySize.
	HistorySize int
	// SubscriberBuffer is how many messages a subscription may have pending
	// before it is closed with broker.ErrSlowSubscriber. The buffer is
	// allocated when subscribing (about 64 bytes per slot). Zero means
	// DefaultSubscriberBuffer.
	SubscriberBuffer int
	// MaxChannels bounds how many channels may exist. Zero means
	// DefaultMaxChannels.
	MaxChannels int
}

// Validate reports the first field that holds an unusable value.
func (o Options) Validate() error {
	switch {
	case o.HistorySize < 0:
		return fmt.Errorf("membroker: Options.HistorySize is %d, want >= 0", o.HistorySize)
	case o.SubscriberBuffer < 0:
		return fmt.Errorf("membroker: Options.SubscriberBuffer is %d, want >= 0", o.SubscriberBuffer)
	case o.MaxChannels < 0:
		return fmt.Errorf("membroker: Options.MaxChannels is %d, want >= 0", o.MaxChannels)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.HistorySize == 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.SubscriberBuffer == 0 {
		o.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if o.MaxChannels == 0 {
		o.MaxChannels = DefaultMaxChannels
	}
	return o
}

// Stats are counters for monitoring a Broker.
type Stats struct {
	Channels      int    // channels that exist
	Subscriptions int    // open subscriptions
	SlowClosed    uint64 // subscriptions closed with broker.ErrSlowSubscriber
}

// Broker is an in-memory broker.Broker. Create it with New.
type Broker struct {
	opts  Options
	epoch string

	channels sync.Map // string -> *channel; read without locks on the hot path
	mu       sync.Mutex
	count    int // channels created; guarded by mu

	closed     atomic.Bool
	subs       atomic.Int64
	slowClosed atomic.Uint64
}

var _ broker.Broker = (*Broker)(nil)

// New returns an empty Broker with a fresh epoch.
func New(opts Options) (*Broker, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("membroker: making epoch: %w", err)
	}
	return &Broker{opts: opts.withDefaults(), epoch: hex.EncodeToString(id[:])}, nil
}

// Epoch is the epoch of every channel of this Broker.
func (b *Broker) Epoch() string { return b.epoch }

// Stats returns current counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	n := b.count
	b.mu.Unlock()
	return Stats{Channels: n, Subscriptions: int(b.subs.Load()), SlowClosed: b.slowClosed.Load()}
}

// Publish implements broker.Broker. The data is copied, so the caller may
// reuse its buffer; subscribers share the stored copy and must not modify it.
func (b *Broker) Publish(ctx context.Context, channel string, data []byte) (broker.Message, error) {
	if err := b.check(ctx, channel); err != nil {
		return broker.Message{}, err
	}
	ch, err := b.channel(channel)
	if err != nil {
		return broker.Message{}, err
	}
	return ch.publish(b, data)
}

// Subscribe implements broker.Broker.
func (b *Broker) Subscribe(ctx context.Context, channel string) (broker.Subscription, error) {
	if err := b.check(ctx, channel); err != nil {
		return nil, err
	}
	ch, err := b.channel(channel)
	if err != nil {
		return nil, err
	}
	return ch.subscribe(b)
}

// History implements broker.Broker.
func (b *Broker) History(ctx context.Context, name string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	if err := b.check(ctx, name); err != nil {
		return nil, broker.Position{}, err
	}
	v, ok := b.channels.Load(name)
	if !ok {
		return nil, broker.Position{Epoch: b.epoch}, nil
	}
	if limit <= 0 || limit > b.opts.HistorySize {
		limit = b.opts.HistorySize
	}
	return v.(*channel).history(b, since, limit)
}

// Close closes every subscription with broker.ErrClosed; later calls fail
// with broker.ErrClosed. Closing twice is a no-op.
func (b *Broker) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	// A channel created concurrently with this loop either is visited here
	// or sees b.closed under its own lock before adding a subscription.
	b.channels.Range(func(_, v any) bool {
		v.(*channel).close(b)
		return true
	})
	return nil
}

func (b *Broker) check(ctx context.Context, channel string) error {
	if b.closed.Load() {
		return broker.ErrClosed
	}
	if err := broker.ValidChannel(channel); err != nil {
		return err
	}
	return ctx.Err()
}

// channel returns the named channel, creating it within MaxChannels.
func (b *Broker) channel(name string) (*channel, error) {
	if v, ok := b.channels.Load(name); ok {
		return v.(*channel), nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.channels.Load(name); ok {
		return v.(*channel), nil
	}
	if b.count >= b.opts.MaxChannels {
		return nil, fmt.Errorf("%w: limit is %d", ErrTooManyChannels, b.opts.MaxChannels)
	}
	ch := &channel{name: name}
	b.channels.Store(name, ch)
	b.count++
	return ch, nil
}
