// Package redisbroker is the broker.Broker for several processes: every
// process that points at the same Redis (and key prefix) sees the same
// channels, the same seqs and every message.
//
// # Storage
//
// Each channel has two keys, sharing a hash tag so that they live in one
// cluster slot:
//
//	<prefix>{<channel>}:m   hash: seq (last assigned), epoch
//	<prefix>{<channel>}:h   list: the newest HistorySize payloads, oldest first
//
// A Lua script does a whole publish atomically: create the epoch if the hash
// is missing (and drop any stale list), HINCRBY seq, RPUSH + LTRIM the list,
// and PUBLISH "<seq>:<epoch>:<payload>" on the pub/sub channel
// <prefix>{<channel>}:p. Because the list always holds consecutive seqs
// ending at seq, it stores raw payloads only: the message at index i has seq
// seq-len+1+i. Redis runs scripts one at a time, so seq order, history order
// and pub/sub order are the same for every process.
//
// The epoch is made by the script when it finds no hash: the id of the
// publishing broker plus Redis' TIME. If the keys vanish (FLUSHDB, eviction,
// StreamTTL), the next publish starts a new epoch at seq 1. A channel that was
// never published to has seq 0 and an empty epoch.
//
// # Subscriptions
//
// A Broker holds one Redis pub/sub connection, shared by all its local
// subscriptions: the first local subscriber of a channel SUBSCRIBEs, the last
// one to leave UNSUBSCRIBEs. One reader goroutine reads that connection and
// fans messages out, so delivery is in seq order. Subscribe returns once a
// PING sent after the SUBSCRIBE has come back (so Redis has registered the
// subscription) and the channel's position is known.
//
// The reader never delivers a gap. It tracks the last seq and epoch it
// delivered per channel; a message that skips ahead, or carries another
// epoch, makes it read the missing messages from history first. After the
// connection fails or stays silent through two ping intervals, the reader
// opens a new one and resubscribes; every SUBSCRIBE confirmation for a live
// channel (also those of go-redis' own reconnects) marks that channel to be
// caught up from history, so nothing missed waits for the next publish.
// The marked channels catch up together once the run of confirmations
// ends, their history reads pipelined (512 to a round trip), so that a
// reconnect with thousands of channels holds the reader for a few round
// trips, not one per channel. A catch-up reads 64 messages of a channel
// at a time, the next page once the last was delivered, and the channels
// of a round trip share 8 MiB of payload (each page stops at its share,
// after one message at least), so that a round trip brings at most 512
// short pages, not 512 whole histories of the largest messages. While
// Redis is unreachable the reader's attempts back off (50 ms doubling to
// 2 s), its connection closed between them: a Subscribe made then waits, within its context, for the next
// attempt, which subscribes it with the live channels, rather than fail
// although Redis may be back already. A catch-up whose history read cannot
// reach Redis ends no channel: for up to a second after Redis is back,
// go-redis may fail commands with the last dial error without dialing (its
// dial breaker, opened by the outage's failed dials), while the reader's
// own connection, dialed afresh, already works. The reader then replaces
// its connection after a pause, as after a failure, and the confirmations
// on the new one catch the channels up; so does a Subscribe's position
// read, which the new connection's barrier makes again while Subscribe
// waits within its context. History, which a service reads a resuming
// subscriber's replay with, tries a read that cannot reach Redis again
// (pauses of 50 ms doubling to 200 ms) for 1.5 s, within its context:
// during an outage it fails after that much, plus the last try. Publish
// is tried again so only when its command was surely not sent (see
// below).
// If the missing messages are no longer in history, the channel's
// subscriptions are closed with an error matching ErrMissedMessages. When the
// epoch changes under a live subscription (Redis lost the keys), delivery
// continues from seq 1 of the new epoch, which Message.Epoch shows. A
// stream that went back in the same epoch (Redis restarted from an older
// snapshot, or a lagging replica took over) would hand out seqs again: the
// reader drops its keys, so that the next publish starts a new epoch, and
// closes the channel's subscriptions with an error matching both
// ErrMissedMessages and broker.ErrStreamReset. It finds out when it
// catches up, as it does after its connection was cut: the stream is below
// the last seq delivered, or, published past it meanwhile, holds another
// message at that seq (the reader keeps a hash of the last message it
// delivered per channel, and reads history from that message on after a
// reconnect).
//
// A subscription whose buffer is full is closed with broker.ErrSlowSubscriber,
// as the contract says; the reader never waits for a subscriber.
//
// A Publish that fails with a network error may still have been applied:
// Redis may have run the script before the reply was lost. So Publish
// sends it once: go-redis would send it again after such an error (an EOF,
// a timeout), and a message whose first run went through would be
// published twice, under two seqs. A Publish whose connection could not
// be made (a refused dial, also go-redis' dial breaker after an outage)
// sent nothing: it is tried again as History is.
//
// Lock order: Broker.subMu before Broker.mu before subscription.mu.
package redisbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/sleep"
)

// Defaults for the zero values of Options.
const (
	DefaultAddr             = "127.0.0.1:6379"
	DefaultPrefix           = "baton:broker:"
	DefaultHistorySize      = 1000
	DefaultSubscriberBuffer = 1024
	DefaultPingInterval     = 3 * time.Second
	DefaultCommandTimeout   = 5 * time.Second
)

// ErrMissedMessages closes subscriptions whose missed messages (after a
// reconnect, say) could not be recovered from history. Err wraps the cause.
var ErrMissedMessages = errors.New("redisbroker: missed messages could not be recovered")

// Options configures a Broker. Zero values mean the documented defaults.
type Options struct {
	// Client is the Redis client to use. The Broker does not close it. It
	// should have ContextTimeoutEnabled set, or go-redis ignores context
	// deadlines (CommandTimeout among them) in favour of its ReadTimeout.
	// When nil, New connects to Addr with Username, Password and DB, and
	// Close closes that connection.
	Client redis.UniversalClient
	// Addr is host:port of Redis; empty means DefaultAddr.
	Addr     string
	Username string
	Password string
	DB       int

	// Prefix starts every key and pub/sub channel name, so that several
	// Baton deployments (or tests) can share one Redis. Empty means
	// DefaultPrefix. It must not contain '{' or '}' (they would break the
	// hash tag that keeps a channel's keys in one cluster slot).
	Prefix string
	// HistorySize is how many of its newest messages each channel retains.
	// Zero means DefaultHistorySize.
	HistorySize int
	// SubscriberBuffer is how many messages a local subscription may have
	// pending before it is closed with broker.ErrSlowSubscriber. Zero means
	// DefaultSubscriberBuffer.
	SubscriberBuffer int
	// StreamTTL makes a channel's keys expire after that long without a
	// publish; its next publish then starts a new epoch. Zero means the keys
	// never expire.
	StreamTTL time.Duration
	// PingInterval is how often an idle pub/sub connection is pinged; one
	// that stays silent for two intervals is replaced. Zero means
	// DefaultPingInterval.
	PingInterval time.Duration
	// CommandTimeout bounds the reader's own Redis calls (positions, catch
	// ups, each attempt to replace its connection) and unsubscribes. Zero
	// means DefaultCommandTimeout.
	CommandTimeout time.Duration
}

// Validate reports the first field that holds an unusable value.
func (o Options) Validate() error {
	switch {
	case strings.ContainsAny(o.Prefix, "{}"):
		return fmt.Errorf("redisbroker: Options.Prefix %q contains '{' or '}'", o.Prefix)
	case o.HistorySize < 0:
		return fmt.Errorf("redisbroker: Options.HistorySize is %d, want >= 0", o.HistorySize)
	case o.SubscriberBuffer < 0:
		return fmt.Errorf("redisbroker: Options.SubscriberBuffer is %d, want >= 0", o.SubscriberBuffer)
	case o.StreamTTL < 0:
		return fmt.Errorf("redisbroker: Options.StreamTTL is %v, want >= 0", o.StreamTTL)
	case o.StreamTTL > 0 && o.StreamTTL < time.Millisecond:
		return fmt.Errorf("redisbroker: Options.StreamTTL is %v, want 0 or >= 1ms", o.StreamTTL)
	case o.PingInterval < 0:
		return fmt.Errorf("redisbroker: Options.PingInterval is %v, want >= 0", o.PingInterval)
	case o.CommandTimeout < 0:
		return fmt.Errorf("redisbroker: Options.CommandTimeout is %v, want >= 0", o.CommandTimeout)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.HistorySize == 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.SubscriberBuffer == 0 {
		o.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	return o
}

// Stats are counters for monitoring a Broker.
type Stats struct {
	Channels      int    // channels with local subscriptions
	Subscriptions int    // open local subscriptions
	SlowClosed    uint64 // subscriptions closed with broker.ErrSlowSubscriber
	MissedClosed  uint64 // channels whose subscriptions were closed with ErrMissedMessages
	Recovered     uint64 // messages delivered from history to fill a gap
	Reconnects    uint64 // pub/sub connections replaced
	Malformed     uint64 // pub/sub payloads that were not ours, ignored
}

// Broker is a Redis-backed broker.Broker. Create it with New.
type Broker struct {
	opts     Options
	rdb      redis.UniversalClient
	ownRDB   bool
	id       string // starts the epochs this broker creates
	seed     maphash.Seed
	ttlMilli int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has returned

	// subMu makes "decide, then send SUBSCRIBE/UNSUBSCRIBE/PING" one step,
	// so that commands reach Redis in the order of the decisions. The
	// reader holds it while it replaces the connection, which may wait
	// for a stuck Redis for seconds: Subscribe gives up on it when its
	// context ends.
	subMu ctxMutex
	ps    *redis.PubSub // replaced by the reader on reconnect
	// psDown says ps was closed after a failed reconnect: the reader's
	// next attempt subscribes every channel in chans and makes them live.
	psDown    bool
	nextToken uint64

	mu       sync.Mutex
	chans    map[string]*chanState // by pub/sub channel name
	barriers map[string]*chanState // PING payload -> channel waiting for it; nil = all (resync)

	stale        []*chanState // live channels to catch up from history; reader only
	stalePinged  bool         // a PING went out after stale's first confirmation; reader only
	resyncBatch  int          // history reads per pipeline when catching up stale channels
	catchUpBytes int          // payload bytes a catch-up's pipeline asks for, shared by its reads
	// cut says a catch-up could not reach Redis: the reader replaces its
	// connection, whose confirmations catch the live channels up again;
	// cuts counts such replacements in a row, for their pause. Reader only.
	cut  bool
	cuts int

	closed atomic.Bool
	subs   atomic.Int64
	stats  struct{ slow, missed, recovered, reconnects, malformed atomic.Uint64 }
}

var _ broker.Broker = (*Broker)(nil)

// New connects to Redis and starts the pub/sub reader. It fails if Redis does
// not answer a PING within ctx.
func New(ctx context.Context, opts Options) (*Broker, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rdb, own := opts.Client, false
	if rdb == nil {
		rdb, own = redis.NewClient(&redis.Options{
			Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB,
			// Let context deadlines (CommandTimeout, callers') bound
			// socket reads, not only the fixed ReadTimeout.
			ContextTimeoutEnabled: true,
		}), true
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		if own {
			_ = rdb.Close()
		}
		return nil, fmt.Errorf("redisbroker: connecting: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redisbroker: making broker id: %w", err)
	}
	b := &Broker{
		opts: opts, rdb: rdb, ownRDB: own, id: hex.EncodeToString(id[:]), seed: maphash.MakeSeed(),
		ttlMilli: opts.StreamTTL.Milliseconds(),
		done:     make(chan struct{}),
		subMu:    make(ctxMutex, 1),
		chans:    make(map[string]*chanState),
		barriers: make(map[string]*chanState),

		resyncBatch:  defaultResyncBatch,
		catchUpBytes: defaultCatchUpBytes,
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.ps = rdb.Subscribe(b.ctx)
	go b.run()
	return b, nil
}

// Stats returns current counters.
func (b *Broker) Stats() Stats {
	b.mu.Lock()
	n := len(b.chans)
	b.mu.Unlock()
	return Stats{
		Channels: n, Subscriptions: int(b.subs.Load()),
		SlowClosed: b.stats.slow.Load(), MissedClosed: b.stats.missed.Load(),
		Recovered: b.stats.recovered.Load(), Reconnects: b.stats.reconnects.Load(),
		Malformed: b.stats.malformed.Load(),
	}
}

// Publish implements broker.Broker. The returned Message shares data.
func (b *Broker) Publish(ctx context.Context, channel string, data []byte) (broker.Message, error) {
	if err := b.check(ctx, channel); err != nil {
		return broker.Message{}, err
	}
	k := b.keys(channel)
	seq, epoch, err := runPublish(ctx, b.rdb, k, data, b.opts.HistorySize, b.id, b.ttlMilli)
	if err != nil && dialFailed(err) { // not sent: safe to send again
		err = tryAgain(ctx, err, dialFailed, func() (err error) {
			seq, epoch, err = runPublish(ctx, b.rdb, k, data, b.opts.HistorySize, b.id, b.ttlMilli)
			return err
		})
	}
	if err != nil {
		return broker.Message{}, fmt.Errorf("redisbroker: publish to %q: %w", channel, err)
	}
	return broker.Message{Channel: channel, Seq: seq, Epoch: epoch, Data: data}, nil
}

// History implements broker.Broker. For a channel never published to it
// returns seq 0 and an empty epoch. A read that cannot reach Redis is tried
// again for up to reachWait, within ctx (see the package doc).
func (b *Broker) History(ctx context.Context, channel string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	if err := b.check(ctx, channel); err != nil {
		return nil, broker.Position{}, err
	}
	msgs, pos, err := b.readHistory(ctx, channel, since, limit, 0)
	if err != nil && unreachable(err) {
		err = tryAgain(ctx, err, unreachable, func() (err error) {
			msgs, pos, err = b.readHistory(ctx, channel, since, limit, 0)
			return err
		})
	}
	return msgs, pos, err
}

// Tries of a call that cannot reach Redis go on for reachWait, a bit over
// the second for which go-redis' dial breaker fails commands without
// dialing once Redis is back; their pauses double from minBackoff to
// maxReachPause.
const (
	reachWait     = 1500 * time.Millisecond
	maxReachPause = 200 * time.Millisecond
)

// tryAgain calls try, after a pause, while the last error (err, then
// try's) is one that again accepts, for up to reachWait within ctx, and
// returns the last error.
func tryAgain(ctx context.Context, err error, again func(error) bool, try func() error) error {
	giveUp := time.Now().Add(reachWait)
	for pause := minBackoff; again(err) && time.Until(giveUp) > pause && sleep.For(ctx, pause) == nil; pause = min(2*pause, maxReachPause) {
		err = try()
	}
	return err
}

// readHistory is one try of History, for a valid channel; bytes, when
// positive, bounds the payload it brings back (historyScript).
func (b *Broker) readHistory(ctx context.Context, channel string, since uint64, limit, bytes int) ([]broker.Message, broker.Position, error) {
	if limit <= 0 || limit > b.opts.HistorySize {
		limit = b.opts.HistorySize
	}
	msgs, pos, err := runHistory(ctx, b.rdb, b.keys(channel), channel, since, limit, bytes)
	if err != nil && !errors.Is(err, broker.ErrHistoryGone) {
		err = fmt.Errorf("redisbroker: history of %q: %w", channel, err)
	}
	return msgs, pos, err
}

// Close stops the reader, closes every subscription with broker.ErrClosed
// and, if New made the Redis client, closes it. Closing twice is a no-op.
func (b *Broker) Close() error {
	b.subMu.Lock()
	if b.closed.Swap(true) {
		b.subMu.Unlock()
		return nil
	}
	b.cancel()
	_ = b.ps.Close()
	b.subMu.Unlock()
	<-b.done

	b.mu.Lock()
	for _, st := range b.chans {
		b.subs.Add(-int64(st.subs.CloseAll(broker.ErrClosed)))
	}
	clear(b.chans)
	b.mu.Unlock()
	if b.ownRDB {
		return b.rdb.Close()
	}
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

// ctxMutex is a mutex whose Lock can give up when a context ends. Make it
// with make(ctxMutex, 1).
type ctxMutex chan struct{}

func (m ctxMutex) Lock()   { m <- struct{}{} }
func (m ctxMutex) Unlock() { <-m }

// LockContext locks m, or returns ctx.Err() if ctx ends first.
func (m ctxMutex) LockContext(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keys names a channel's Redis keys and pub/sub channel.
type keys struct{ meta, hist, pubsub string }

func (b *Broker) keys(channel string) keys {
	base := b.opts.Prefix + "{" + channel + "}"
	return keys{meta: base + ":m", hist: base + ":h", pubsub: base + ":p"}
}
