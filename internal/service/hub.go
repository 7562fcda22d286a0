package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/broker"
)

// Subscriber is a local consumer of channel messages, usually one client
// connection. Implementations must be comparable (use a pointer type): the
// hub keys its member sets by Subscriber.
//
// The hub calls Deliver and Lost while holding the channel's lock, so both
// must return quickly and must not call back into the Hub. They may be called
// concurrently for different channels; for one channel, calls are serialized
// and Deliver sees seqs in increasing order, each at most once.
type Subscriber interface {
	// Deliver hands over one message. It must not block: it enqueues into
	// the subscriber's bounded outbound queue and, when the queue is full,
	// applies the subscriber's own overflow rule (the reference services
	// close the connection as a slow consumer). m.Data is shared between all
	// subscribers and must be treated as read-only.
	Deliver(m broker.Message)
	// Lost tells the subscriber that the hub ended its subscription to
	// channel on its own, because the gap-free stream could not be kept
	// (the broker closed, history needed to fill a gap was gone, or the
	// broker could not be reached in time to fill one). The
	// subscriber is already removed; it may subscribe again.
	Lost(channel string, err error)
}

// FrameSubscriber is a Subscriber whose live deliveries can share one
// encoding of each message. On the live fan-out the hub encodes a message
// once per distinct FrameEncoder and hands the same bytes to every member
// using it, through DeliverFrame; replayed history still goes through
// Deliver. The rules of Deliver apply to DeliverFrame.
type FrameSubscriber interface {
	Subscriber
	// FrameEncoder returns the encoder this subscriber's frames come from.
	// It must be comparable (a pointer): subscribers returning equal
	// encoders share frames.
	FrameEncoder() FrameEncoder
	// DeliverFrame hands over m together with FrameEncoder's encoding of
	// it. frame is shared between subscribers and must be treated as
	// read-only.
	DeliverFrame(m broker.Message, frame []byte)
}

// FrameEncoder encodes a message for FrameSubscribers. EncodeFrame may be
// called concurrently for different channels.
type FrameEncoder interface {
	EncodeFrame(m broker.Message) []byte
}

// Hub errors that callers test for. Broker errors (broker.ErrHistoryGone,
// broker.ErrInvalidChannel, broker.ErrClosed) are passed through wrapped.
var (
	// ErrAlreadySubscribed: the subscriber already holds this channel.
	ErrAlreadySubscribed = errors.New("service: already subscribed")
	// ErrSinceAhead: the requested since is beyond the channel's newest seq.
	ErrSinceAhead = errors.New("service: since is ahead of the channel")
	// ErrReplayBehind: a replay could not catch up with the live stream
	// within maxCatchUpRounds history reads (publishing outpaces the reader).
	ErrReplayBehind = errors.New("service: replay could not catch up with the live stream")
	// ErrHubClosed: the hub has been closed.
	ErrHubClosed = errors.New("service: hub closed")
)

// HubOptions tunes a Hub. The zero value is usable.
type HubOptions struct {
	// MaxPending bounds the live messages a replaying subscriber buffers
	// while its history is read. On overflow the buffer is discarded and the
	// history is read again from the last delivered seq, so nothing is lost;
	// 0 means 4096.
	MaxPending int
}

// maxCatchUpRounds bounds how often one Subscribe re-reads history after its
// pending buffer overflowed, so a hopeless replay fails instead of spinning.
const maxCatchUpRounds = 8

// positionProbe is the since used to ask History for a channel's position
// only: no message has a seq above it, and it fits every implementation's
// integer type.
const positionProbe = math.MaxInt64

// HubStats are the hub's counters.
type HubStats struct {
	Channels     int    // channels with a live broker subscription
	Resubscribes uint64 // hub subscriptions re-established after broker.ErrSlowSubscriber
	Lost         uint64 // channels ended with Lost because the stream could not be kept
	Rereads      uint64 // replays that read history again after their pending buffer overflowed
	ResumedLive  uint64 // subscribes with since at the channel's newest seq, joined live without reading history
}

// Hub shares one broker subscription per channel among all local
// subscribers of that channel, and gives each subscriber a gap-free,
// duplicate-free stream in seq order.
//
// Lock order: Hub.mu before hubChannel.mu; Subscriber callbacks run under
// hubChannel.mu only.
type Hub struct {
	b          broker.Broker
	maxPending int

	ctx    context.Context // canceled by Close; the channels' contexts derive from it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	channels map[string]*hubChannel
	closed   bool
	// restarts holds, per channel whose stream restarted, the newest seq
	// of the old stream (hub_restart.go); restartOrder, the channels in
	// the order they restarted, bounds it.
	restarts     map[string]uint64
	restartOrder []string

	resubscribes atomic.Uint64
	lost         atomic.Uint64
	rereads      atomic.Uint64
	resumedLive  atomic.Uint64

	// resubscribeAttempt and resubscribeBound are resubscribeTimeout and
	// resubscribeGiveUp, which tests shorten.
	resubscribeAttempt, resubscribeBound time.Duration

	afterAcquire func() // tests: runs between acquire and joining the channel
}

// NewHub returns a hub over b. The hub does not own b: Close leaves it open.
func NewHub(b broker.Broker, opts HubOptions) *Hub {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 4096
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		b:                  b,
		maxPending:         opts.MaxPending,
		ctx:                ctx,
		cancel:             cancel,
		channels:           make(map[string]*hubChannel),
		resubscribeAttempt: resubscribeTimeout,
		resubscribeBound:   resubscribeGiveUp,
	}
}

// Broker returns the broker the hub reads from (for publishing).
func (h *Hub) Broker() broker.Broker { return h.b }

// SubscribeOptions refine a subscription.
type SubscribeOptions struct {
	// Since, when HasSince is set, asks for the retained messages with
	// seq > Since first, then the live stream.
	Since    uint64
	HasSince bool
	// OnReady, if set, is called once the subscription has taken effect
	// and before the first Deliver for it, with the position that
	// Subscribe will return. It runs under the channel's lock, like
	// Deliver, so a connection can enqueue its acknowledgement there and
	// have it reach the client ahead of the channel's messages.
	OnReady func(pos broker.Position)
	// ReplayPage, with HasSince, is how many history messages the replay
	// reads, and holds, at a time; 0 means 64. A connection sets it from
	// its queue's bounds, so that a replay costs it a window of its queue
	// in memory however long the history and however slowly it reads.
	ReplayPage int
}

// Subscribe adds s to channel, live only: s receives every message with a
// seq above the returned position's Seq (the channel's newest seq when the
// subscription took effect).
func (h *Hub) Subscribe(ctx context.Context, channel string, s Subscriber) (broker.Position, error) {
	return h.SubscribeWith(ctx, channel, s, SubscribeOptions{})
}

// SubscribeSince adds s to channel and first replays the retained messages
// with seq > since, then continues live. See SubscribeWith.
func (h *Hub) SubscribeSince(ctx context.Context, channel string, s Subscriber, since uint64) (broker.Position, error) {
	return h.SubscribeWith(ctx, channel, s, SubscribeOptions{Since: since, HasSince: true})
}

// SubscribeWith adds s to channel. Without HasSince it behaves like
// Subscribe. With HasSince it replays the retained messages with
// seq > Since, then continues live, without gap or duplicate; the returned
// position is the channel's newest seq when history was read, and every
// message up to it is delivered before any later one.
//
// A replaying subscribe fails with an error matching broker.ErrHistoryGone
// when messages after Since are no longer retained, and with ErrSinceAhead
// when Since is above the channel's newest seq; neither calls OnReady. When
// it fails later, with ErrReplayBehind (rare) or because ctx ended or s
// closed while a ReplaySubscriber waited for room, OnReady has already run
// and some messages may have been delivered. On any error s is not
// subscribed.
//
// A replay is not limited by s's queue: a ReplaySubscriber gets it a window
// at a time (see ReplaySubscriber), so SubscribeWith blocks until the
// client has taken most of it. History is read a page at a time
// (ReplayPage) as the client takes it, so a client that reads slower than
// the channel's history turns over may find the rest of its replay gone:
// SubscribeWith then fails with an error matching broker.ErrHistoryGone,
// after OnReady, having delivered a gap-free prefix.
func (h *Hub) SubscribeWith(ctx context.Context, channel string, s Subscriber, opts SubscribeOptions) (broker.Position, error) {
	if err := broker.ValidChannel(channel); err != nil {
		return broker.Position{}, err
	}
	c, err := h.acquire(ctx, channel, opts)
	if err != nil {
		return broker.Position{}, err
	}
	if h.afterAcquire != nil {
		h.afterAcquire()
	}

	c.mu.Lock()
	for attempt := 0; c.stopped; attempt++ {
		// The channel was lost (or the hub closed) between acquire and
		// here; lose took it out of the map, so acquire starts afresh.
		c.mu.Unlock()
		h.release(c)
		if attempt == 2 {
			return broker.Position{}, fmt.Errorf("channel %q: %w", channel, broker.ErrClosed)
		}
		if c, err = h.acquire(ctx, channel, opts); err != nil {
			return broker.Position{}, err
		}
		c.mu.Lock()
	}
	if _, dup := c.members[s]; dup {
		c.mu.Unlock()
		h.release(c)
		return broker.Position{}, fmt.Errorf("channel %q: %w", channel, ErrAlreadySubscribed)
	}
	m := &member{s: s}
	m.fs, _ = s.(FrameSubscriber)
	c.members[s] = m
	if !opts.HasSince || opts.Since == c.last {
		// c.last is the newest seq fanned out (or the position read when
		// the channel started); everything after it reaches m. A since
		// equal to it (a client resuming where the channel stands, as a
		// gateway moving a session does) has no history to read.
		if opts.HasSince {
			h.resumedLive.Add(1)
		}
		m.last = c.last
		pos := broker.Position{Seq: c.last, Epoch: c.epoch}
		if opts.OnReady != nil {
			opts.OnReady(pos)
		}
		c.mu.Unlock()
		return pos, nil
	}
	m.last = opts.Since
	m.replaying = true
	c.mu.Unlock()

	pos, err := h.replay(ctx, c, m, opts)
	if err != nil {
		h.leave(c, m)
		return broker.Position{}, err
	}
	return pos, nil
}

// Unsubscribe removes s from channel. It reports whether s was subscribed.
// The channel's broker subscription ends with its last subscriber.
func (h *Hub) Unsubscribe(channel string, s Subscriber) bool {
	h.mu.Lock()
	c := h.channels[channel]
	if c == nil {
		h.mu.Unlock()
		return false
	}
	c.mu.Lock()
	_, ok := c.members[s]
	delete(c.members, s)
	c.mu.Unlock()
	if ok {
		h.releaseLocked(c)
	}
	h.mu.Unlock()
	return ok
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	n := len(h.channels)
	h.mu.Unlock()
	return HubStats{Channels: n, Resubscribes: h.resubscribes.Load(), Lost: h.lost.Load(), Rereads: h.rereads.Load(), ResumedLive: h.resumedLive.Load()}
}

// Close ends every broker subscription and waits for the hub's goroutines.
// Subscribers are not notified; their owners are expected to be shutting
// down too. Later Subscribe calls fail with ErrHubClosed.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	chans := h.channels
	h.channels = make(map[string]*hubChannel)
	h.mu.Unlock()

	h.cancel()
	for _, c := range chans {
		c.stop()
	}
	h.wg.Wait()
	return nil
}

// leave removes member m from c if it is still there.
func (h *Hub) leave(c *hubChannel, m *member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	ok := c.members[m.s] == m
	if ok {
		delete(c.members, m.s)
	}
	c.mu.Unlock()
	if ok {
		h.releaseLocked(c)
	}
}

// acquire returns the running hub channel for name, starting it if needed,
// with one reference taken for the caller. It refuses a since (opts) that
// may be of a stream of name that restarted: checked with the channel
// taken, under h.mu, so that a channel started after a restart was
// recorded (Hub.restarted records it before lose drops the channel) never
// replays from the old stream's since.
func (h *Hub) acquire(ctx context.Context, name string, opts SubscribeOptions) (*hubChannel, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrHubClosed
	}
	if opts.HasSince {
		if err := h.checkSinceLocked(name, opts.Since); err != nil {
			h.mu.Unlock()
			return nil, err
		}
	}
	c := h.channels[name]
	if c != nil {
		c.refs++
	} else {
		c = &hubChannel{
			name:       name,
			ready:      make(chan struct{}),
			members:    make(map[Subscriber]*member),
			maxPending: h.maxPending,
			refs:       1,
		}
		c.ctx, c.cancel = context.WithCancel(h.ctx)
		h.channels[name] = c
		// Added under h.mu, so that it comes before Close's Wait.
		h.wg.Add(1)
		go h.startChannel(c)
	}
	h.mu.Unlock()
	select {
	case <-c.ready:
	case <-ctx.Done():
		h.release(c)
		return nil, ctx.Err()
	}
	if c.startErr != nil {
		h.release(c)
		return nil, c.startErr
	}
	return c, nil
}

// startChannel runs c's start and then opens c.ready. The start is the
// channel's, not its first caller's: a caller that gives up must not fail
// the others joining meanwhile with its context's end. Close's cancel of
// h.ctx, and channelStartTimeout, bound it. It holds one unit of h.wg.
func (h *Hub) startChannel(c *hubChannel) {
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.ctx, channelStartTimeout)
	defer cancel()
	c.startErr = h.start(ctx, c)
	close(c.ready)
}

// channelStartTimeout bounds the broker subscribe and position read that
// start a hub channel.
const channelStartTimeout = 10 * time.Second

// start subscribes c to the broker and reads its position, then starts the
// fan-out goroutine. Subscribing before reading the position is what makes
// "everything after c.last" complete.
func (h *Hub) start(ctx context.Context, c *hubChannel) error {
	sub, err := h.b.Subscribe(ctx, c.name)
	if err != nil {
		return fmt.Errorf("channel %q: subscribe: %w", c.name, err)
	}
	_, pos, err := h.b.History(ctx, c.name, positionProbe, 1)
	if err != nil {
		_ = sub.Close()
		return fmt.Errorf("channel %q: position: %w", c.name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped { // Close raced with the start
		_ = sub.Close()
		return ErrHubClosed
	}
	c.sub, c.last, c.epoch = sub, pos.Seq, pos.Epoch
	// Added under c.mu so that it happens before Close's stop and Wait.
	h.wg.Add(1)
	go h.run(c, sub)
	return nil
}

func (h *Hub) release(c *hubChannel) {
	h.mu.Lock()
	h.releaseLocked(c)
	h.mu.Unlock()
}

func (h *Hub) releaseLocked(c *hubChannel) {
	c.refs--
	if c.refs > 0 {
		return
	}
	if h.channels[c.name] == c {
		delete(h.channels, c.name)
	}
	c.stop()
}
