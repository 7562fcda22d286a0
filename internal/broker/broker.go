// Package broker defines the pub/sub contract that Baton's reference services
// build on: every channel is an append-only stream with gap-free sequence
// numbers and a bounded history, so that a session can be replayed on another
// backend from "the last seq it saw" and get every later message exactly once.
//
// Implementations live in subpackages (membroker, redisbroker); brokertest
// holds the behavioural suite that every implementation must pass.
package broker

import (
	"context"
	"errors"
	"fmt"
)

// Message is one published message as stored in a channel's stream.
type Message struct {
	Channel string
	// Seq is the message's position in its channel: 1 for the first message,
	// then +1 per publish, with no gaps, for as long as Epoch stays the same.
	Seq uint64
	// Epoch names one continuous life of the channel's stream. It changes when
	// the stream's history is lost (a restarted memory broker, a flushed
	// Redis); seqs from different epochs must not be compared.
	Epoch string
	// Data is the payload exactly as published: raw JSON, never re-encoded.
	Data []byte
}

// Position is where a channel's stream stands.
type Position struct {
	Seq uint64 // seq of the newest message; 0 when nothing was published
	// Epoch is the stream's epoch. It may be empty while Seq is 0: a
	// backend may create the epoch with the channel's first message.
	Epoch string
}

// Broker is a set of sequenced channels.
//
// Ordering: for one channel, every subscription receives messages in seq
// order, without gaps, unless it is closed for being slow (see Subscription).
// Publish is atomic: a message is either assigned a seq, stored in history and
// delivered to subscriptions, or the call fails and nothing of it is visible.
// All methods are safe for concurrent use.
type Broker interface {
	// Publish appends data to channel and returns the message as stored.
	Publish(ctx context.Context, channel string, data []byte) (Message, error)

	// Subscribe starts a live subscription to channel. Messages published
	// after Subscribe returns are delivered on Messages(); a caller that also
	// needs older messages subscribes first and then reads History, dropping
	// seqs it has already seen.
	Subscribe(ctx context.Context, channel string) (Subscription, error)

	// History returns up to limit messages of channel with seq > since, oldest
	// first, and the channel's current position. When messages after since are
	// no longer retained it returns an error matching ErrHistoryGone (see
	// HistoryGoneError) rather than a partial answer. limit <= 0 means the
	// implementation's retention bound.
	History(ctx context.Context, channel string, since uint64, limit int) ([]Message, Position, error)

	// Close releases the broker's resources and closes every subscription.
	Close() error
}

// Subscription is one live stream of a channel's messages.
//
// Each subscription has a bounded buffer. A subscriber that lets it fill is
// not allowed to stall publishers or other subscribers: the subscription is
// closed, Messages() is closed, and Err returns ErrSlowSubscriber. The
// subscriber recovers by subscribing again and reading History from the last
// seq it handled.
type Subscription interface {
	Messages() <-chan Message
	// Err tells why Messages() was closed: nil after Close, ErrSlowSubscriber,
	// ErrClosed when the broker closed, or a transport error.
	Err() error
	Close() error
}

var (
	// ErrHistoryGone: the requested messages are older than retained history.
	ErrHistoryGone = errors.New("broker: history no longer retained")
	// ErrSlowSubscriber: a subscription's buffer overflowed and it was closed.
	ErrSlowSubscriber = errors.New("broker: subscriber too slow, subscription closed")
	// ErrClosed: the broker has been closed.
	ErrClosed = errors.New("broker: closed")
	// ErrStreamReset: the broker found a channel's stream rolled back
	// (its seqs went backwards in one epoch) and started it afresh in a
	// new epoch; the subscription was closed with it. Seqs seen before
	// mean nothing in the new stream.
	ErrStreamReset = errors.New("broker: the channel's stream went back and was started afresh")
	// ErrInvalidChannel: an empty or oversized channel name.
	ErrInvalidChannel = errors.New("broker: invalid channel name")
)

// MaxChannelLen bounds channel names so they can be used as keys anywhere.
const MaxChannelLen = 256

// HistoryGoneError is returned by History when since is older than the oldest
// retained message. It matches ErrHistoryGone with errors.Is.
type HistoryGoneError struct {
	Channel string
	Since   uint64
	// Oldest is the seq of the oldest message still retained (0 if none).
	Oldest uint64
	Epoch  string
}

func (e *HistoryGoneError) Error() string {
	return fmt.Sprintf("broker: channel %q: history after seq %d no longer retained (oldest is %d)", e.Channel, e.Since, e.Oldest)
}

// Is makes errors.Is(err, ErrHistoryGone) true.
func (e *HistoryGoneError) Is(target error) bool { return target == ErrHistoryGone }

// ValidChannel reports whether name can be used as a channel.
func ValidChannel(name string) error {
	if name == "" || len(name) > MaxChannelLen {
		return fmt.Errorf("%w: length %d (want 1..%d)", ErrInvalidChannel, len(name), MaxChannelLen)
	}
	return nil
}
