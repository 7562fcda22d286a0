package sioclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/expiry"
	"github.com/baton-rt/baton/internal/wire/jsonobj"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// Socket is one namespace joined on a Client. All methods are safe for
// concurrent use.
type Socket struct {
	c   *Client
	nsp string

	// ready is closed when the server answered CONNECT: sid or connErr is
	// set before.
	ready   chan struct{}
	sid     string
	connErr error

	// events is nil when the client has an OnEvent handler.
	events chan Event
	// lent is what an event handed to OnEvent points into, reused for
	// the next (reading goroutine only; see Options.OnEvent).
	lent struct {
		args [][]byte
		msg  Message
	}

	mu sync.Mutex
	// connected: Connect handed the socket to its caller.
	connected bool
	nextID    int64
	acks      map[int64]*pendingAck // by ack id
	expire    *expiry.Sweeper       // gives up EmitWithAckFunc's answers; made at the first
	ended     bool
	err       error
	done      chan struct{}
}

// pendingAck is an EmitWithAck call waiting for its answer on ch (cap 1),
// or an EmitWithAckFunc's then, given up at due (never when zero).
type pendingAck struct {
	ch   chan Payload
	then func(Payload, error)
	due  time.Time
}

// errNoAck ends an EmitWithAckFunc whose answer did not come in time.
var errNoAck = fmt.Errorf("sioclient: no ack in time: %w", context.DeadlineExceeded)

func newSocket(c *Client, nsp string) *Socket {
	s := &Socket{c: c, nsp: nsp, ready: make(chan struct{}), done: make(chan struct{})}
	if c.opts.OnEvent == nil {
		s.events = make(chan Event, c.opts.EventBuffer)
	}
	return s
}

// Namespace is the socket's namespace, for example "/" or "/admin".
func (s *Socket) Namespace() string { return s.nsp }

// ID is the Socket.IO socket id the server assigned.
func (s *Socket) ID() string { return s.sid }

// Client is the client the socket lives on.
func (s *Socket) Client() *Client { return s.c }

// Events delivers the events the server sends to this socket, in order,
// when the client has no OnEvent handler (nil otherwise). It is closed
// after the socket ends; events received before remain readable. If it is
// full when an event arrives the client is closed with ErrSlowConsumer (see
// Options.EventBuffer).
func (s *Socket) Events() <-chan Event { return s.events }

// Done is closed when the socket has ended.
func (s *Socket) Done() <-chan struct{} { return s.done }

// Err is nil while the socket is connected, then tells why it ended:
// ErrClosed, ErrServerDisconnect, or the client's error.
func (s *Socket) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close leaves the namespace (a DISCONNECT packet, best effort within
// Options.WriteTimeout) and ends the socket with ErrClosed. The client
// stays open.
//
// The official server (4.8) handles a DISCONNECT on its next tick and
// drops the whole connection if a CONNECT for the same namespace arrives
// before that; rejoin after one round trip on the client (any acked emit).
func (s *Socket) Close() error {
	s.c.remove(s)
	if s.end(ErrClosed) {
		ctx, cancel := context.WithTimeout(context.Background(), s.c.opts.WriteTimeout)
		defer cancel()
		_ = s.c.sendPacket(ctx, socketio.Message{Packet: socketio.Packet{Type: socketio.Disconnect, Namespace: s.nsp}})
	}
	return nil
}

// Emit sends an event with JSON arguments (each one raw JSON value). An
// event name Socket.IO reserves ("connect", "disconnect", ...) is refused
// with ErrReservedEvent, by every emit, as by the official client.
func (s *Socket) Emit(ctx context.Context, event string, args ...[]byte) error {
	return s.EmitPayload(ctx, event, Payload{Args: args})
}

// EmitPayload sends an event whose arguments may carry binary attachments.
func (s *Socket) EmitPayload(ctx context.Context, event string, p Payload) error {
	if err := s.Err(); err != nil {
		return err
	}
	if err := checkEvent(event); err != nil {
		return err
	}
	return s.c.sendPacket(ctx, s.eventMessage(event, p, 0, false))
}

// EmitWithAck sends an event with JSON arguments and waits for the server's
// acknowledgement, returning its arguments (and attachments, if any). ctx
// bounds the whole call; an ack arriving after ctx ended is discarded.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...[]byte) (Payload, error) {
	return s.EmitPayloadWithAck(ctx, event, Payload{Args: args})
}

// EmitPayloadWithAck is EmitWithAck for arguments with binary attachments.
func (s *Socket) EmitPayloadWithAck(ctx context.Context, event string, p Payload) (Payload, error) {
	if err := checkEvent(event); err != nil {
		return Payload{}, err
	}
	ch := make(chan Payload, 1)
	id, err := s.expectAck(&pendingAck{ch: ch})
	if err != nil {
		return Payload{}, err
	}
	if err := s.c.sendPacket(ctx, s.eventMessage(event, p, id, true)); err != nil {
		s.takeAck(id)
		return Payload{}, err
	}
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		s.takeAck(id)
		return Payload{}, ctx.Err()
	case <-s.done:
		select {
		case reply := <-ch: // answered before the end: select picked at random
			return reply, nil
		default:
			return Payload{}, s.Err()
		}
	}
}

func (s *Socket) eventMessage(event string, p Payload, id int64, hasID bool) socketio.Message {
	t := socketio.Event
	if len(p.Binary) > 0 {
		t = socketio.BinaryEvent
	}
	return socketio.Message{
		Packet: socketio.Packet{
			Type:        t,
			Namespace:   s.nsp,
			ID:          id,
			HasID:       hasID,
			Attachments: len(p.Binary),
			Data:        socketio.AppendEvent(nil, event, p.Args...),
		},
		Binary: p.Binary,
	}
}

// EmitWithAckFunc sends an event with JSON arguments and returns once it
// is written, without waiting: then gets the server's acknowledgement, or
// the error that ended the wait, exactly once: the socket's end, or one
// wrapping context.DeadlineExceeded at ctx's deadline or after
// Options.AckTimeout, whichever comes first. ctx bounds the write; a
// cancelation of ctx once the event is written is not watched, so that
// an emit costs no timer or context of its own. An answer is handed over
// on the client's reading goroutine, like an OnEvent, and its payload is
// valid only until then returns; then must not block. An error returned
// means then is not called.
func (s *Socket) EmitWithAckFunc(ctx context.Context, event string, then func(Payload, error), args ...[]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkEvent(event); err != nil {
		return err
	}
	pa := &pendingAck{then: then, due: expiry.Due(ctx, s.c.opts.AckTimeout)}
	id, err := s.expectAck(pa)
	if err != nil {
		return err
	}
	if err := s.c.sendEvent(ctx, s.nsp, id, true, event, args); err != nil {
		if _, ok := s.takeAck(id); ok {
			return err
		}
	}
	return nil // an answer, the deadline or the socket's end calls then
}

// sweep gives up the EmitWithAckFunc answers due by now (see expiry) and
// returns the next deadline.
func (s *Socket) sweep(now time.Time) time.Time {
	s.mu.Lock()
	due, next := expiry.TakeDue(s.acks, now, func(pa *pendingAck) time.Time { return pa.due }) // an EmitWithAck's due is zero
	s.mu.Unlock()
	for _, pa := range due {
		pa.then(Payload{}, errNoAck)
	}
	return next
}

// expectAck registers pa under a fresh id.
func (s *Socket) expectAck(pa *pendingAck) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return 0, s.err
	}
	if len(s.acks) >= s.c.opts.MaxPendingAcks {
		return 0, fmt.Errorf("%w (%d)", ErrTooManyPendingAcks, len(s.acks))
	}
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	id := s.nextID
	s.nextID++
	s.acks[id] = pa
	if !pa.due.IsZero() {
		if s.expire == nil {
			s.expire = expiry.New(s.sweep)
		}
		s.expire.Arm(pa.due)
	}
	return id, nil
}

// takeAck removes the pending ack id and returns it; false when an
// answer, a timeout or the socket's end took it first.
func (s *Socket) takeAck(id int64) (*pendingAck, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pa, ok := s.acks[id]
	delete(s.acks, id)
	return pa, ok
}

// resolve hands an ACK to the EmitWithAck call waiting for it; acks nobody
// waits for any more (timed out) are discarded.
func (s *Socket) resolve(m socketio.Message) {
	if !m.HasID {
		return
	}
	pa, ok := s.takeAck(m.ID)
	if !ok {
		return
	}
	data := m.Data // lent to then for the call
	if pa.then == nil {
		data = bytes.Clone(data) // the caller reads it after the reader has moved on
	}
	args, err := splitArgs(data)
	if err != nil {
		args = nil // the codec already checked the shape; be safe anyway
	}
	p := Payload{Args: args, Binary: m.Binary}
	if pa.then != nil {
		pa.then(p, nil)
		return
	}
	pa.ch <- p // buffered 1, sole sender
}

// sendAck answers a server event's callback.
func (s *Socket) sendAck(ctx context.Context, id int64, p Payload) error {
	if err := s.Err(); err != nil {
		return err
	}
	t := socketio.Ack
	if len(p.Binary) > 0 {
		t = socketio.BinaryAck
	}
	return s.c.sendPacket(ctx, socketio.Message{
		Packet: socketio.Packet{
			Type:        t,
			Namespace:   s.nsp,
			ID:          id,
			HasID:       true,
			Attachments: len(p.Binary),
			Data:        socketio.AppendArgs(nil, p.Args...),
		},
		Binary: p.Binary,
	})
}

// deliver passes an incoming event to the handler or the Events channel.
// It returns ErrSlowConsumer when the channel is full.
func (s *Socket) deliver(m socketio.Message) error {
	h := s.c.opts.OnEvent
	var args [][]byte // a fresh array for the Events channel
	if h != nil {
		args = s.lent.args // the handler is done with it
	} else {
		m.Data = bytes.Clone(m.Data) // the reader may lend it: the channel keeps it
	}
	name, args, err := socketio.SplitEventTo(args, m.Data, &s.c.names)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	ev := Event{Name: name, Payload: Payload{Args: args, Binary: m.Binary}, s: s, id: m.ID, hasID: m.HasID}
	var msg Message
	isMsg := false
	if name == "message" && len(args) > 0 {
		msg, err = parseMessage(args[0], &s.c.names)
		isMsg = err == nil
	}
	if h != nil {
		s.lent.args = args
		if isMsg {
			s.lent.msg = msg
			ev.Message = &s.lent.msg
		}
		h(s, ev)
		return nil
	}
	if isMsg {
		kept := msg // only this copy escapes: the handler's path allocates none
		ev.Message = &kept
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	select {
	case s.events <- ev:
		return nil
	default:
		return fmt.Errorf("%w: namespace %s, %d events buffered", ErrSlowConsumer, s.nsp, cap(s.events))
	}
}

// accept records the server's CONNECT answer; false if s was not waiting.
func (s *Socket) accept(data []byte) bool {
	sid := connectSID(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || isClosed(s.ready) {
		return false
	}
	s.sid = sid
	close(s.ready)
	return true
}

// connectSID reads the sid of a CONNECT answer ({"sid":"..."}); "" when
// there is none, as the answer is not checked further.
func connectSID(data []byte) string {
	fs := [...]jsonobj.Field{{Key: "sid"}}
	if jsonobj.ObjectFields(data, fs[:]) != nil || fs[0].Raw == nil {
		return ""
	}
	sid, _ := jsonobj.Unquote(fs[0].Raw) // "" for null or a non-string
	return sid
}

// markConnected hands the socket to Connect's caller, unless it ended
// meanwhile.
func (s *Socket) markConnected() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return s.err
	}
	s.connected = true
	return nil
}

// refuse records a CONNECT_ERROR answer.
func (s *Socket) refuse(data []byte) {
	ce := &ConnectError{Namespace: s.nsp}
	var v struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	// The payload is an object, or a bare string from older servers.
	if err := json.Unmarshal(data, &v); err == nil {
		ce.Message, ce.Data = v.Message, v.Data
	} else if err := json.Unmarshal(data, &ce.Message); err != nil {
		ce.Message = string(data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || isClosed(s.ready) {
		return
	}
	s.connErr = ce
	close(s.ready)
}

// end ends the socket with err and, if it had been connected, tells
// OnSocketClose; false if it had already ended.
func (s *Socket) end(err error) bool {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return false
	}
	s.ended = true
	s.err = err
	var owed []*pendingAck // EmitWithAckFunc's; EmitWithAck's callers see done
	for _, pa := range s.acks {
		if pa.then != nil {
			owed = append(owed, pa)
		}
	}
	s.acks = nil
	if s.expire != nil {
		s.expire.Stop()
	}
	if s.events != nil {
		close(s.events)
	}
	close(s.done)
	connected := s.connected
	s.mu.Unlock()
	for _, pa := range owed {
		pa.then(Payload{}, err)
	}
	if h := s.c.opts.OnSocketClose; h != nil && connected {
		h(s, err)
	}
	return true
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// splitArgs splits an ack's JSON array into its raw arguments (subslices
// of data).
func splitArgs(data []byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	args, err := jsonobj.SplitArray(data)
	if err == nil && args == nil {
		args = [][]byte{} // an empty ack is no arguments, not a missing list
	}
	return args, err
}
