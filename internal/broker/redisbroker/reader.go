package redisbroker

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/sleep"
)

// Reconnect backoff: doubles from minBackoff to maxBackoff while attempts
// keep failing.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
	// maxCatchUpRounds bounds one catch-up: besides the pages of a whole
	// history (HistorySize / historyPage reads), it may make that many
	// more history reads (a new epoch, a trimmed message to verify,
	// messages published while it reads); a channel that is still behind
	// after them all is caught up again by its next message.
	maxCatchUpRounds = 100
	// historyPage is how many messages a catch-up reads from one
	// channel's history at a time: a reconnect's pipelined reads hold at
	// most resyncBatch pages, not resyncBatch whole histories.
	historyPage = 64
	// historyAttempts is how often the reader tries a history read.
	historyAttempts = 3
	// defaultResyncBatch is how many channels' history reads go in one
	// pipeline when many channels catch up at once (after a reconnect).
	defaultResyncBatch = 512
	// defaultCatchUpBytes bounds the payload a catch-up's pipeline brings
	// back: its channels share it, each read stopping at its share (after
	// one message at least), so a batch of channels with large messages
	// holds megabytes, not resyncBatch pages of the largest size.
	defaultCatchUpBytes = 8 << 20
)

// run is the reader goroutine: it owns the pub/sub connection's reads and
// every chanState's live/last/epoch.
func (b *Broker) run() {
	defer close(b.done)
	failures := 0
	pinged := false
	for {
		if b.cut {
			// A catch-up could not reach Redis: try again on a new
			// connection, after a pause that grows while it keeps failing.
			b.cut = false
			if !b.reconnect(b.cuts) {
				return
			}
			b.cuts++
			pinged = false
		}
		b.subMu.Lock()
		ps := b.ps
		b.subMu.Unlock()

		msg, err := ps.ReceiveTimeout(b.ctx, b.opts.PingInterval)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Idle: make Redis say something within the next interval.
				b.catchUpStale()
				pinged = true
				_ = ps.Ping(b.ctx)
				continue
			}
			// The connection failed, or stayed silent after a ping.
			if !b.reconnect(failures) {
				return
			}
			failures++
			pinged = false
			continue
		}
		failures, pinged = 0, false
		switch m := msg.(type) {
		case *redis.Message:
			// A channel marked stale checks its stream before it
			// delivers anything newer.
			b.catchUpStale()
			b.onMessage(m)
		case *redis.Pong:
			b.onPong(m.Payload)
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.onSubscribed(m.Channel)
				continue // confirmations come in a run: catch up after it
			}
		}
		b.catchUpStale()
	}
}

// onSubscribed handles a SUBSCRIBE confirmation. For a channel that is not
// live yet it means nothing (its PING barrier says when it is). For a live
// channel it means the connection was replaced (by reconnect, or by go-redis
// itself after a failed write, which resubscribes every channel), so
// messages may have been missed: history has them. The channel joins the
// stale ones, caught up together when the run of confirmations ends; a PING
// makes sure something follows the run.
func (b *Broker) onSubscribed(pubsub string) {
	b.mu.Lock()
	st := b.chans[pubsub]
	b.mu.Unlock()
	if st == nil || !st.live {
		return
	}
	if !b.stalePinged {
		// On failure go-redis replaces the connection without the reader
		// seeing an error: its confirmations try again.
		b.subMu.Lock()
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
		b.stalePinged = b.ps.Ping(ctx) == nil
		cancel()
		b.subMu.Unlock()
	}
	b.markStale(st)
}

// markStale adds st to the channels to catch up. Reader only.
func (b *Broker) markStale(st *chanState) {
	if !st.stale {
		st.stale, st.verify = true, st.summed
		b.stale = append(b.stale, st)
	}
}

// reconnect replaces the pub/sub connection after a pause, subscribes to
// every channel again and sends a barrier after which channels that were not
// live yet go live (live ones catch up on their SUBSCRIBE confirmation, and
// again at the barrier).
// It returns false when the broker is closing.
func (b *Broker) reconnect(failures int) bool {
	b.stats.reconnects.Add(1)
	pause := min(maxBackoff, minBackoff<<min(failures, 10))
	if sleep.For(b.ctx, pause) != nil {
		return false
	}

	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.closed.Load() {
		return false
	}
	_ = b.ps.Close()
	b.mu.Lock()
	names := make([]string, 0, len(b.chans))
	for name := range b.chans {
		names = append(names, name)
	}
	// Replies to barriers sent on the old connection will never come; the
	// new barrier covers every channel, live or not yet.
	clear(b.barriers)
	token := b.barrierLocked(nil)
	b.mu.Unlock()

	// Errors here surface again as a failing receive, which retries.
	// CommandTimeout bounds the whole attempt: a stuck Redis would
	// otherwise hold subMu, and with it Subscribe, Close and every
	// Subscription.Close, for as long as go-redis waits to dial.
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
	b.ps = b.rdb.Subscribe(ctx, names...)
	b.psDown = false
	if err := b.ps.Ping(ctx, token); err != nil {
		// Without its barrier this connection would never catch up:
		// make the next receive fail so that we try again.
		_ = b.ps.Close()
		b.psDown = true
	}
	cancel()
	return true
}

// onPong handles a barrier: every command sent before its PING has been
// processed, so the channels waiting for it can go live or catch up.
func (b *Broker) onPong(payload string) {
	b.mu.Lock()
	st, ok := b.barriers[payload]
	delete(b.barriers, payload)
	var todo []*chanState
	switch {
	case !ok: // a keep-alive ping
	case st == nil:
		for _, c := range b.chans {
			todo = append(todo, c)
		}
	case b.chans[st.pubsub] == st:
		todo = append(todo, st)
	}
	b.mu.Unlock()

	for _, st := range todo {
		if st.live {
			b.markStale(st) // caught up with the rest of them, in batches
			continue
		}
		_, pos, err := b.history(st.channel, ^uint64(0), 1, 0)
		if b.cutIfUnreachable(err) {
			return // as for a catch-up: the next connection's barrier reads the positions again, while Subscribe waits
		}
		if err != nil {
			b.fail(st, fmt.Errorf("redisbroker: reading position of %q: %w", st.channel, err))
			continue
		}
		// Messages up to pos were published before Subscribe returns;
		// the subscriber reads them from History if it wants them.
		st.live, st.last, st.epoch = true, pos.Seq, pos.Epoch
		close(st.ready)
	}
}

func (b *Broker) onMessage(m *redis.Message) {
	b.mu.Lock()
	st := b.chans[m.Channel]
	b.mu.Unlock()
	if st == nil || !st.live || b.cut {
		return // nobody is owed this message, or the next connection's catch-up delivers it
	}
	seq, epoch, data, err := parsePayload(m.Payload)
	if err != nil {
		b.stats.malformed.Add(1)
		return
	}
	if st.epoch == "" && st.last == 0 {
		st.epoch = epoch // the stream began after we subscribed
	}
	if epoch == st.epoch {
		switch {
		case seq <= st.last:
			return // already delivered from history
		case seq == st.last+1:
			b.deliver(st, broker.Message{Channel: st.channel, Seq: seq, Epoch: epoch, Data: data})
			return
		}
	}
	// A gap, or a new epoch: history has what was missed, this message
	// included.
	b.catchUp(st)
}

// deliver hands m to st's subscriptions and advances st.last.
func (b *Broker) deliver(st *chanState, m broker.Message) {
	st.last, st.sum, st.summed = m.Seq, maphash.Bytes(b.seed, m.Data), true
	b.mu.Lock()
	empty := b.deliverLocked(st, m)
	b.mu.Unlock()
	if empty {
		b.unsubscribeIfEmpty(st)
	}
}

// catchUp delivers, from history, every message after st.last. If the epoch
// changed it starts again from seq 1 of the new epoch. If history no longer
// has what is needed, the channel's subscriptions are closed.
func (b *Broker) catchUp(st *chanState) {
	for range b.catchUpRounds() {
		if b.cut {
			return // the next connection catches st up
		}
		since := st.readFrom()
		msgs, pos, err := b.history(st.channel, since, historyPage, b.catchUpBytes)
		if b.cutIfUnreachable(err) {
			return
		}
		if !b.applyHistory(st, historyRead{since, msgs, pos, err}) {
			return
		}
	}
}

// catchUpRounds is how many history reads one catch-up may make (see
// maxCatchUpRounds). A page bounded by bytes may hold a single message, so
// a whole history may take as many reads as it has messages.
func (b *Broker) catchUpRounds() int {
	return maxCatchUpRounds + b.opts.HistorySize
}

// countNil is how many entries of sts are nil.
func countNil(sts []*chanState) int {
	n := 0
	for _, st := range sts {
		if st == nil {
			n++
		}
	}
	return n
}

// readFrom is the seq after which st's next history read starts: st.last,
// or the one before when message st.last is to be checked.
func (st *chanState) readFrom() uint64 {
	if st.verify {
		return st.last - 1 // st.last > 0: a message was delivered
	}
	return st.last
}

// applyHistory acts on one history read after r.since (st.readFrom()) and
// reports whether st needs another.
func (b *Broker) applyHistory(st *chanState, r historyRead) (again bool) {
	msgs, pos, err := r.msgs, r.pos, r.err
	var gone *broker.HistoryGoneError
	if r.since < st.last {
		// The read starts at message st.last: in the same epoch it must
		// be the one delivered. If it is not, the stream went back and
		// was published past st.last before we caught up: its seqs up to
		// st.last were handed out again, for other messages.
		st.verify = false
		switch {
		case err == nil && pos.Epoch == st.epoch && len(msgs) > 0:
			if maphash.Bytes(b.seed, msgs[0].Data) != st.sum {
				b.resetStream(st, pos)
				return false
			}
			msgs = msgs[1:]
		case errors.As(err, &gone) && gone.Epoch == st.epoch && gone.Oldest == st.last+1:
			return true // message st.last was trimmed: read on after it
		}
	}
	switch {
	case errors.As(err, &gone) && gone.Epoch != st.epoch, err == nil && pos.Epoch != st.epoch:
		st.epoch, st.last, st.summed = pos.Epoch, 0, false
		return true
	case err != nil:
		b.stats.missed.Add(1)
		b.fail(st, fmt.Errorf("%w: channel %q after seq %d: %w", ErrMissedMessages, st.channel, st.last, err))
		return false
	case pos.Seq < st.last:
		// The stream went back in its epoch (Redis restarted from an
		// older snapshot, or failed over to a lagging replica): its
		// next seqs would be ones already delivered.
		b.resetStream(st, pos)
		return false
	}
	for _, m := range msgs {
		b.stats.recovered.Add(1)
		b.deliver(st, m)
	}
	// r.msgs, not msgs: a page bounded by bytes may hold only the message
	// checked above.
	return len(r.msgs) > 0 && st.last < pos.Seq
}

// catchUpStale catches up every stale channel. Their history reads go to
// Redis in pipelines of b.resyncBatch, a page (historyPage messages) of
// each channel at a time, so that a reconnect with many channels costs a
// round trip per batch and page rather than one per channel, and holds at
// most a page per channel; a channel whose read failed goes on alone.
func (b *Broker) catchUpStale() {
	if len(b.stale) == 0 {
		return
	}
	stale := b.stale
	b.stale, b.stalePinged = nil, false
	for batch := range slices.Chunk(stale, b.resyncBatch) {
		for _, st := range batch {
			st.stale = false
		}
		b.catchUpBatch(batch)
	}
}

// catchUpBatch catches up the channels of sts, reading a page of each per
// pipeline, the next once the previous was delivered, for up to
// catchUpRounds pipelines, as catchUp does for one channel. It sets the
// entries of sts it is done with to nil.
func (b *Broker) catchUpBatch(sts []*chanState) {
	for range b.catchUpRounds() {
		if b.cut {
			return // the next connection catches them up
		}
		left := 0
		b.mu.Lock()
		for i, st := range sts {
			if st != nil && b.chans[st.pubsub] != st {
				sts[i] = nil // unsubscribed meanwhile: nobody is owed anything
			}
			if sts[i] != nil {
				left++
			}
		}
		b.mu.Unlock()
		if left == 0 {
			return
		}
		reads := b.historyBatch(sts)
		for i, st := range sts {
			switch r := reads[i]; {
			case st == nil:
			case r.err != nil && !errors.Is(r.err, broker.ErrHistoryGone):
				sts[i] = nil
				b.catchUp(st) // retries on its own
			case !b.applyHistory(st, r):
				sts[i] = nil
			}
		}
	}
}

// historyRead is one answer of historyBatch.
type historyRead struct {
	since uint64
	msgs  []broker.Message
	pos   broker.Position
	err   error
}

// historyBatch reads, in one pipeline, a page of the history after readFrom
// of every channel of sts (nil entries skipped), each page bounded by its
// share of the catch-up's bytes.
func (b *Broker) historyBatch(sts []*chanState) []historyRead {
	reads := make([]historyRead, len(sts))
	cmds := make([]*redis.Cmd, len(sts))
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
	defer cancel()
	// EVALSHA fails with NOSCRIPT in a pipeline rather than loading the
	// script: load it first (Redis may have restarted empty).
	if err := historyScript.Load(ctx, b.rdb).Err(); err != nil {
		for i := range reads {
			reads[i].err = err
		}
		return reads
	}
	share := b.catchUpBytes / max(len(sts)-countNil(sts), 1)
	pipe := b.rdb.Pipeline()
	for i, st := range sts {
		if st != nil {
			k := b.keys(st.channel)
			reads[i].since = st.readFrom()
			cmds[i] = historyScript.EvalSha(ctx, pipe, []string{k.meta, k.hist}, historyArgs(reads[i].since, historyPage, max(share, 1))...)
		}
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, st := range sts {
		if st == nil {
			continue
		}
		res, err := cmds[i].Slice()
		if err == nil {
			reads[i].msgs, reads[i].pos, err = parseHistory(res, st.channel, reads[i].since)
		}
		reads[i].err = err
	}
	return reads
}

// resetStream starts st's stream, found gone back (at pos below what was
// delivered, or with another message at seq st.last), afresh in a new
// epoch, and closes st's subscriptions with broker.ErrStreamReset so that
// their holders know seqs start over.
func (b *Broker) resetStream(st *chanState, pos broker.Position) {
	b.stats.missed.Add(1)
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
	k := b.keys(st.channel)
	err := resetScript.Run(ctx, b.rdb, []string{k.meta, k.hist}, pos.Epoch).Err()
	cancel()
	if err != nil {
		err = fmt.Errorf("resetting it: %w", err)
	}
	b.fail(st, errors.Join(fmt.Errorf("%w: %w: channel %q at seq %d of epoch %s, after seq %d was delivered",
		ErrMissedMessages, broker.ErrStreamReset, st.channel, pos.Seq, pos.Epoch, st.last), err))
}

// history is History for the reader: each attempt bounded by
// CommandTimeout, and a failed attempt retried a few times, since it usually
// means a broken pooled connection, which go-redis drops (the next attempt
// dials afresh). Unlike History it does not wait for an unreachable Redis:
// its callers leave that to the reader's next connection (Broker.cut).
func (b *Broker) history(channel string, since uint64, limit, bytes int) ([]broker.Message, broker.Position, error) {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, b.opts.CommandTimeout)
		msgs, pos, err := b.readHistory(ctx, channel, since, limit, bytes)
		cancel()
		if err == nil || errors.Is(err, broker.ErrHistoryGone) || attempt == historyAttempts || b.ctx.Err() != nil {
			return msgs, pos, err
		}
	}
}

// cutIfUnreachable reports whether a read of the reader's failed because
// Redis could not be reached; then the reader replaces its connection
// (b.cut), whose confirmations catch the channels up again. A read that
// Redis answered resets the pause between such replacements.
func (b *Broker) cutIfUnreachable(err error) bool {
	if err != nil && unreachable(err) {
		b.cut = true
		return true
	}
	b.cuts = 0
	return false
}

// unreachable reports whether err says that Redis could not be reached (a
// refused dial, also one go-redis repeats without dialing while its dial
// breaker is open; a broken connection; a timeout) rather than answered.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded)
}

// dialFailed reports whether err says that no connection to Redis could be
// made, so that the command was not sent: a refused dial, also one
// go-redis repeats without dialing while its dial breaker is open.
func dialFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// fail closes st's subscriptions (and a pending Subscribe) with err.
func (b *Broker) fail(st *chanState, err error) {
	if b.ctx.Err() != nil {
		return // Close reports ErrClosed instead
	}
	b.mu.Lock()
	b.subs.Add(-int64(st.subs.CloseAll(err)))
	b.mu.Unlock()
	if !st.live {
		st.err = err
		close(st.ready)
	}
	b.unsubscribeIfEmpty(st)
}
