package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/sio"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/legacy"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// Error codes that only the Socket.IO service uses; the others are the
// legacy protocol's (legacy.Code*).
const (
	codeNotSubscribed = "not_subscribed"
)

// errSubscriptionLost closes a connection whose subscription the hub ended:
// Socket.IO has no event for it, and a reconnect with since recovers.
var errSubscriptionLost = errors.New("service: subscription lost")

// sioMember is one socket's pub/sub state; it is the Hub subscriber.
//
// Lock order: hubChannel.mu (Deliver, Lost, OnReady run under it) before
// sioMember.mu.
type sioMember struct {
	svc  *SocketIO
	sock *sio.Socket
	conn *eio.Conn // sock's connection, kept here for the fan-out's sake

	mu   sync.Mutex
	subs map[string]struct{} // held or being subscribed; nil until the first subscribe

	own ownPublishes // the reader's own (see awaitOwn)
}

var (
	_ FrameSubscriber  = (*sioMember)(nil)
	_ ReplaySubscriber = (*sioMember)(nil)
)

func memberOf(s *sio.Socket) *sioMember {
	m, _ := s.Value().(*sioMember)
	return m
}

// mountPubSub installs the pub/sub API on n.
func (s *SocketIO) mountPubSub(n *sio.Namespace) {
	n.Use(func(so *sio.Socket) error {
		so.SetValue(&sioMember{svc: s, sock: so, conn: so.Conn()})
		return nil
	})
	n.On("subscribe", s.subscribe)
	n.On("unsubscribe", s.unsubscribe)
	n.On("publish", s.publish)
	n.OnDisconnect(func(so *sio.Socket, reason error) {
		if m := memberOf(so); m != nil {
			m.leaveAll()
		}
		s.log.Debug("socket.io: disconnect", "socket", so.ID(), "reason", reason)
	})
}

// parseRequest reads the event's first argument, the argument of
// subscribe, unsubscribe and publish; on failure it returns the error code
// and message to answer with.
func parseRequest(e *sio.Event) (req socketio.PubSubRequest, code, msg string) {
	switch {
	case len(e.Binary) > 0:
		return req, legacy.CodeBadRequest, "binary attachments are not supported"
	case len(e.Args) == 0:
		return req, legacy.CodeBadRequest, socketio.ErrNotObject.Error()
	}
	req, err := socketio.ReadPubSubRequest(e.Args[0], nil)
	switch {
	case err != nil:
		return req, legacy.CodeBadRequest, err.Error()
	case !req.HasChannel:
		return req, legacy.CodeInvalidChannel, `missing field "channel"`
	}
	if err := broker.ValidChannel(req.Channel); err != nil {
		return req, legacy.CodeInvalidChannel, err.Error()
	}
	return req, "", ""
}

// readRequest is parseRequest for an event handler: on failure it answers
// the event with the error and reports false.
func readRequest(e *sio.Event) (socketio.PubSubRequest, bool) {
	req, code, msg := parseRequest(e)
	if code != "" {
		replyError(e, code, msg)
		return req, false
	}
	return req, true
}

var ackOK = []byte(`{"ok":true}`)

// appendOKSeq appends {"ok":true,"seq":N}: the ack of a publish (the assigned
// seq) and of a subscribe (the channel's position when it took effect, as in
// the legacy protocol, so a gateway has a resume point before any message).
func appendOKSeq(dst []byte, seq uint64) []byte {
	dst = append(dst, `{"ok":true,"seq":`...)
	return append(strconv.AppendUint(dst, seq, 10), '}')
}

// replyError acks e with {"error":"<code>: <msg>"} if the client asked for
// an ack.
func replyError(e *sio.Event, code, msg string) {
	if !e.WantsAck() {
		return
	}
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{code + ": " + msg})
	_ = e.Ack(b)
}

func (s *SocketIO) subscribe(so *sio.Socket, e *sio.Event) {
	req, ok := readRequest(e)
	if !ok {
		return
	}
	since, hasSince, err := req.ReadSince()
	if err != nil {
		replyError(e, legacy.CodeBadSince, err.Error())
		return
	}
	m := memberOf(so)
	ch := req.Channel
	m.mu.Lock()
	_, dup := m.subs[ch]
	full := len(m.subs) >= s.limits.MaxSubscriptions
	if !dup && !full {
		if m.subs == nil {
			m.subs = make(map[string]struct{})
		}
		m.subs[ch] = struct{}{} // reserved while subscribing
	}
	m.mu.Unlock()
	switch {
	case dup:
		replyError(e, legacy.CodeAlreadySubscribed, "already subscribed to "+strconv.Quote(ch))
		return
	case full:
		replyError(e, legacy.CodeTooManySubscriptions, fmt.Sprintf("at most %d subscriptions per connection", s.limits.MaxSubscriptions))
		return
	}

	ctx, cancel := context.WithTimeout(so.Context(), s.cfg.RequestTimeout)
	defer cancel()
	acked := false
	_, err = s.hub.SubscribeWith(ctx, ch, m, SubscribeOptions{
		Since:      since,
		HasSince:   hasSince,
		ReplayPage: s.limits.replayPage(),
		// Runs before the first message of the subscription is delivered,
		// so the ack reaches the client ahead of them.
		OnReady: func(pos broker.Position) {
			acked = true
			if e.WantsAck() {
				_ = e.Ack(appendOKSeq(nil, pos.Seq))
			}
		},
	})
	if err == nil {
		if so.Context().Err() != nil { // disconnected meanwhile
			s.hub.Unsubscribe(ch, m)
		}
		return
	}
	m.mu.Lock()
	delete(m.subs, ch)
	m.mu.Unlock()
	if acked { // the replay failed after it had started
		if so.Context().Err() != nil {
			return // the client went away meanwhile; nothing was lost
		}
		s.lost.Add(1)
		so.Conn().CloseWith(fmt.Errorf("%w: %w", errSubscriptionLost, err))
		return
	}
	var gone *broker.HistoryGoneError
	switch {
	case errors.As(err, &gone):
		replyError(e, legacy.CodeHistoryGone, fmt.Sprintf("messages after seq %d are no longer retained (oldest is %d)", since, gone.Oldest))
	case errors.Is(err, broker.ErrHistoryGone):
		replyError(e, legacy.CodeHistoryGone, err.Error())
	case errors.Is(err, ErrSinceAhead):
		replyError(e, legacy.CodeBadSince, err.Error())
	case errors.Is(err, broker.ErrInvalidChannel):
		replyError(e, legacy.CodeInvalidChannel, err.Error())
	case errors.Is(err, ErrAlreadySubscribed):
		replyError(e, legacy.CodeAlreadySubscribed, err.Error())
	default:
		s.log.Warn("socket.io: subscribe failed", "socket", so.ID(), "channel", ch, "err", err)
		replyError(e, legacy.CodeInternal, err.Error())
	}
}

func (s *SocketIO) unsubscribe(so *sio.Socket, e *sio.Event) {
	req, ok := readRequest(e)
	if !ok {
		return
	}
	m := memberOf(so)
	ch := req.Channel
	m.mu.Lock()
	_, held := m.subs[ch]
	delete(m.subs, ch)
	m.mu.Unlock()
	if !held {
		replyError(e, codeNotSubscribed, "not subscribed to "+strconv.Quote(ch))
		return
	}
	s.hub.Unsubscribe(ch, m)
	if e.WantsAck() {
		_ = e.Ack(ackOK)
	}
}

func (s *SocketIO) publish(so *sio.Socket, e *sio.Event) {
	req, ok := readRequest(e)
	if !ok {
		return
	}
	if s.cfg.Faults.refuse() {
		replyErrorAfter(s.cfg.Faults.delay(), e, legacy.CodeInternal, ErrInjected.Error())
		return
	}
	data := bytes.Clone(req.Data) // the broker keeps it; never re-encoded
	if data == nil {
		data = []byte("null") // as the Node reference server does
	}
	ctx, cancel := context.WithTimeout(so.Context(), s.cfg.RequestTimeout)
	defer cancel()
	if err := checkData(data); err != nil {
		replyError(e, legacy.CodeBadRequest, err.Error())
		return
	}
	msgOut, err := s.broker.Publish(ctx, req.Channel, data)
	switch {
	case errors.Is(err, broker.ErrInvalidChannel):
		replyError(e, legacy.CodeInvalidChannel, err.Error())
		return
	case err != nil:
		s.log.Warn("socket.io: publish failed", "socket", so.ID(), "channel", req.Channel, "err", err)
		replyError(e, legacy.CodeInternal, err.Error())
		return
	}
	s.published.Add(1)
	if e.WantsAck() {
		ackAfter(s.cfg.Faults.delay(), e, appendOKSeq(nil, msgOut.Seq))
	}
	if m := memberOf(so); m != nil {
		m.awaitOwn(msgOut)
	}
}

// awaitOwn is the reader's backpressure on the client's own publishes
// (see ownPublishes), run after each of them: it counts msg's message,
// which the hub's fan-out queues later, and once queue and count would
// pass half the queue's bounds it waits for the fan-out to have queued
// them. The Engine.IO reader then stops reading the client while its
// queue is over half full, until the writer has taken it: a client that
// writes many publishes at once and reads a moment later is slowed down,
// not closed as a slow consumer.
func (m *sioMember) awaitOwn(msg broker.Message) {
	ctx, lim := m.sock.Context(), m.svc.limits
	m.own.note(ctx, m.svc.hub, msg, sioMsgSize(msg))
	items, bytes := m.conn.Queued()
	if items+m.own.items > lim.OutboundMessages/2 || bytes+m.own.bytes > lim.OutboundBytes/2 {
		m.own.catchUp(ctx, m.svc.hub)
	}
}

// Deliver implements Subscriber: it queues the "message" event without
// blocking. A full queue closes the connection as a slow consumer (counted
// by the Engine.IO server).
func (m *sioMember) Deliver(msg broker.Message) {
	_ = m.conn.SendFrame(messageFrames.EncodeFrame(msg))
}

// WaitRoom implements ReplaySubscriber: a replay waits for the Engine.IO
// writer to make room in the session's outbound queue instead of
// overflowing it. It fails once the session is closed.
func (m *sioMember) WaitRoom(ctx context.Context, msgs []broker.Message) (int, error) {
	// The subscribe's ack is held for the reader's flush, and the replay
	// runs on the reader: without this, room that only the ack's write
	// would make is never made.
	m.conn.Flush()
	return replayWindow(ctx, msgs, m.svc.limits.OutboundMessages, m.svc.limits.OutboundBytes, sioMsgSize, m.conn.WaitRoom)
}

// sioMsgSize bounds the size of a message's frame (see appendMessageEvent):
// its data and channel plus at most 64 bytes of envelope, which is what the
// frame counts against the session's byte bound.
func sioMsgSize(msg broker.Message) int { return len(msg.Data) + 2*len(msg.Channel) + 64 }

// FrameEncoder implements FrameSubscriber: all sockets share one encoding
// of a message, the complete Engine.IO frame.
func (m *sioMember) FrameEncoder() FrameEncoder { return messageFrames }

// DeliverFrame implements FrameSubscriber; it is Deliver with the frame
// already built (and shared with the other subscribers).
func (m *sioMember) DeliverFrame(_ broker.Message, frame []byte) {
	_ = m.conn.SendFrame(frame)
}

// messageFrames encodes the "message" event as an Engine.IO frame on the
// main namespace: 42["message",{...}].
var messageFrames = &messageEncoder{}

type messageEncoder struct{}

func (*messageEncoder) EncodeFrame(msg broker.Message) []byte {
	dst := make([]byte, 0, len(msg.Data)+len(msg.Channel)+48)
	return appendMessageEvent(append(dst, byte(engineio.Message)), msg)
}

// Lost implements Subscriber. Socket.IO has no event for it, so the
// connection is closed; the client reconnects and subscribes with since.
func (m *sioMember) Lost(channel string, err error) {
	m.mu.Lock()
	delete(m.subs, channel)
	m.mu.Unlock()
	m.svc.lost.Add(1)
	// CloseWith only schedules the disconnect handlers, which call back
	// into the hub; it does not run them here under the hub's locks.
	m.conn.CloseWith(fmt.Errorf("%w: channel %q: %w", errSubscriptionLost, channel, err))
}

// leaveAll ends every subscription of the socket.
func (m *sioMember) leaveAll() {
	m.mu.Lock()
	subs := m.subs
	m.subs = nil
	m.mu.Unlock()
	for ch := range subs {
		m.svc.hub.Unsubscribe(ch, m)
	}
}

// appendMessageEvent appends the Socket.IO packet
// 2["message",{"channel":C,"seq":N,"data":D}] with D spliced in as is.
func appendMessageEvent(dst []byte, msg broker.Message) []byte {
	dst = append(dst, byte('0'+socketio.Event))
	dst = append(dst, `["message",{"channel":`...)
	dst = socketio.AppendString(dst, msg.Channel)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, msg.Seq, 10)
	dst = append(dst, `,"data":`...)
	dst = append(dst, msg.Data...)
	return append(dst, "}]"...)
}
