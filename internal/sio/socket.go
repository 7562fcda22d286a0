package sio

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// Socket is one client's membership of one namespace. All methods are safe
// for concurrent use.
type Socket struct {
	id   string
	nsp  *Namespace
	cl   *client
	auth []byte

	ctx    context.Context // canceled with the disconnect reason
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	connected bool
	rooms     map[string]struct{} // joined rooms other than its own
	// leftOwnRoom: the socket left the room named by its id (or its
	// namespace). Written with the namespace's mu and mu held, read
	// with either.
	leftOwnRoom bool
	acks        map[int64]chan Ack // server-emitted events awaiting the client's ack
	nextAck     int64
	value       any

	// joining says the middlewares are still judging the socket's
	// CONNECT. What is emitted to the socket meanwhile (the gateway's
	// edge attaches a backend then, whose connection handler's events
	// arrive at once) is held in early and sent right after the CONNECT
	// answer, as a Node server's connection handler's emits follow it: a
	// client handles an event that comes before the answer ahead of its
	// "connect", without its id. Dropped if the CONNECT is refused.
	// Cleared, under mu, once early is sent.
	joining    atomic.Bool
	early      [][]engineio.Packet
	earlyBytes int
}

// Ack is the client's answer to an event emitted with EmitWithAck.
type Ack struct {
	Args   [][]byte // raw JSON of each argument
	Binary [][]byte // attachments referenced by placeholders in Args
}

func newSocket(n *Namespace, cl *client, auth []byte) *Socket {
	// Not derived from the connection's context: onClose cancels it when
	// the connection ends, and a child would cost every connection a
	// registration in its parent.
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Socket{id: newID(), nsp: n, cl: cl, auth: auth, ctx: ctx, cancel: cancel}
	s.joining.Store(true)
	return s
}

// ID is the socket's id (the "sid" of its CONNECT answer); it is also the
// name of a room holding only this socket.
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Auth is the raw JSON object the client sent with CONNECT ("{}" if none).
func (s *Socket) Auth() []byte { return s.auth }

// Conn is the Engine.IO connection under the socket (shared by the
// client's other namespaces).
func (s *Socket) Conn() *eio.Conn { return s.cl.conn }

// Request describes the HTTP request that opened the connection.
func (s *Socket) Request() eio.RequestInfo { return s.cl.conn.Request() }

// Context is canceled when the socket leaves its namespace; context.Cause
// tells why.
func (s *Socket) Context() context.Context { return s.ctx }

// SetValue stores the application's state for this socket.
func (s *Socket) SetValue(v any) {
	s.mu.Lock()
	s.value = v
	s.mu.Unlock()
}

// Value returns what SetValue stored.
func (s *Socket) Value() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value
}

// Connected reports whether the socket is still in its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Join adds the socket to room.
func (s *Socket) Join(room string) {
	s.nsp.mu.Lock()
	s.nsp.joinLocked(s, room)
	s.nsp.mu.Unlock()
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.nsp.mu.Lock()
	defer s.nsp.mu.Unlock()
	s.mu.Lock()
	if room == s.id && s.connected {
		s.leftOwnRoom = true
	}
	_, in := s.rooms[room]
	delete(s.rooms, room)
	s.mu.Unlock()
	if in {
		s.nsp.leaveRoomLocked(s, room)
	}
}

// Rooms lists the rooms the socket is in.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.rooms)+1)
	if s.connected && !s.leftOwnRoom {
		out = append(out, s.id)
	}
	for r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// Emit sends an event with raw JSON arguments, spliced in as they are.
func (s *Socket) Emit(event string, args ...[]byte) error {
	return s.EmitBinary(event, nil, args...)
}

// EmitBinary is Emit with binary attachments; args reference them with
// {"_placeholder":true,"num":i}.
func (s *Socket) EmitBinary(event string, binary [][]byte, args ...[]byte) error {
	if reserved[event] {
		return ErrReservedEvent
	}
	return s.packet(socketio.Packet{Type: socketio.Event, Data: socketio.AppendEvent(nil, event, args...)}, binary)
}

// EmitWithAck sends an event asking for an acknowledgement and waits for
// it until ctx ends. It must not be called from a handler of the same
// connection, which would wait for a packet only it can read.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...[]byte) (Ack, error) {
	p, err := s.EmitAsking(event, nil, args...)
	if err != nil {
		return Ack{}, err
	}
	defer p.Drop()
	return p.Wait(ctx)
}

// EmitAsking sends an event, with binary attachments, asking for an
// acknowledgement, and returns at once: the ack is awaited with the
// returned PendingAck, which must be dropped once no longer awaited.
// Unlike EmitWithAck it may be called anywhere, a handler included.
func (s *Socket) EmitAsking(event string, binary [][]byte, args ...[]byte) (*PendingAck, error) {
	if reserved[event] {
		return nil, ErrReservedEvent
	}
	ch := make(chan Ack, 1)
	s.mu.Lock()
	if !s.connected && !s.joining.Load() {
		s.mu.Unlock()
		return nil, ErrDisconnected
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]chan Ack)
	}
	s.acks[id] = ch
	s.mu.Unlock()

	p := socketio.Packet{Type: socketio.Event, ID: id, HasID: true, Data: socketio.AppendEvent(nil, event, args...)}
	if err := s.packet(p, binary); err != nil {
		s.dropAck(id)
		return nil, err
	}
	return &PendingAck{s: s, id: id, event: event, ch: ch}, nil
}

// PendingAck is an acknowledgement asked for by EmitAsking.
type PendingAck struct {
	s     *Socket
	id    int64
	event string
	ch    chan Ack
}

// Wait waits for the ack until ctx ends or the socket disconnects.
func (p *PendingAck) Wait(ctx context.Context) (Ack, error) {
	select {
	case a := <-p.ch:
		return a, nil
	case <-ctx.Done():
		return Ack{}, fmt.Errorf("sio: ack for %q: %w", p.event, ctx.Err())
	case <-p.s.ctx.Done():
		return Ack{}, fmt.Errorf("%w: %w", ErrDisconnected, context.Cause(p.s.ctx))
	}
}

// Drop stops awaiting the ack: one that comes later is ignored.
func (p *PendingAck) Drop() { p.s.dropAck(p.id) }

func (s *Socket) dropAck(id int64) {
	s.mu.Lock()
	delete(s.acks, id)
	s.mu.Unlock()
}

// packet sends p in the socket's namespace, or holds it while the socket
// is joining.
func (s *Socket) packet(p socketio.Packet, binary [][]byte) error {
	p.Namespace = s.nsp.name
	if s.joining.Load() {
		if held, err := s.hold(p, binary); held {
			return err
		}
	}
	return s.cl.send(p, binary)
}

// hold keeps p for after the CONNECT answer if the socket is still joining
// (see joining), and reports whether it did; a socket refused or closed
// meanwhile sends nothing. What is held is bounded as the outbound queue
// it goes to is, with its overflow rule: past the bound the connection
// is closed as a slow consumer.
func (s *Socket) hold(p socketio.Packet, binary [][]byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.joining.Load() {
		return false, nil
	}
	if s.ctx.Err() != nil {
		return true, nil
	}
	g := encode(p, binary)
	size := 0
	for _, ep := range g {
		size += len(ep.Data)
	}
	lim := s.cl.srv.cfg.Engine
	if len(s.early) >= lim.QueuePackets || s.earlyBytes+size > lim.QueueBytes {
		s.early, s.earlyBytes = nil, 0
		s.cl.conn.CloseWith(eio.ErrSlowConsumer)
		return true, eio.ErrSlowConsumer
	}
	s.early = append(s.early, g)
	s.earlyBytes += size
	return true, nil
}

// joined sends the CONNECT answer, then what was held while the socket
// was joining, and ends the holding: nothing emitted meanwhile can pass
// them.
func (s *Socket) joined(answer socketio.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connected = true
	_ = s.cl.send(answer, nil)
	for _, g := range s.early {
		_ = s.cl.conn.Send(g...) // a failure closes the connection
	}
	s.early, s.earlyBytes = nil, 0
	s.joining.Store(false)
}

// Disconnect makes the socket leave its namespace: the client gets
// DISCONNECT, the connection stays open for its other namespaces.
func (s *Socket) Disconnect() {
	s.disconnect(ErrServerDisconnect)
}

// Close disconnects every namespace of the client and closes the
// connection (Node's disconnect(true)).
func (s *Socket) Close() {
	s.cl.disconnectAll()
}

func (s *Socket) disconnect(reason error) {
	if !s.Connected() {
		return
	}
	_ = s.packet(socketio.Packet{Type: socketio.Disconnect}, nil)
	s.onClose(reason)
}

// onClose takes the socket out of its namespace, once.
func (s *Socket) onClose(reason error) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	s.mu.Unlock()
	s.cancel(reason)
	s.nsp.remove(s)
	s.cl.remove(s)
	if f := s.nsp.onDisconnect(); f != nil {
		f(s, reason)
	}
}

// onPacket handles a packet for the socket's namespace.
func (s *Socket) onPacket(m socketio.Message) {
	switch m.Type {
	case socketio.Event, socketio.BinaryEvent:
		name, args, err := socketio.SplitEvent(m.Data)
		if err != nil {
			s.cl.protocolError(err)
			return
		}
		if reserved[name] {
			s.cl.protocolError(fmt.Errorf("%w: %q", ErrReservedEvent, name))
			return
		}
		if h := s.nsp.handler(name); h != nil {
			e := &Event{Name: name, Args: args, Binary: m.Binary, id: m.ID, hasID: m.HasID, s: s}
			e.inHandler.Store(true)
			h(s, e)
			e.inHandler.Store(false)
		}
	case socketio.Ack, socketio.BinaryAck:
		args, err := splitArgs(m.Data)
		if err != nil {
			s.cl.protocolError(err)
			return
		}
		if !m.HasID {
			return // answers nothing, as in Node ("bad ack")
		}
		s.mu.Lock()
		ch := s.acks[m.ID]
		delete(s.acks, m.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- Ack{Args: args, Binary: m.Binary}
		}
	case socketio.Disconnect:
		s.onClose(ErrClientDisconnect)
	}
}

// splitArgs splits an ack's JSON array into its raw elements.
func splitArgs(data []byte) ([][]byte, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("sio: ack payload: %w", err)
	}
	out := make([][]byte, len(raw))
	for i, r := range raw {
		out[i] = r
	}
	return out, nil
}

// Event is one event received from a client.
type Event struct {
	Name   string
	Args   [][]byte // raw JSON of each argument, placeholders left in place
	Binary [][]byte // attachments, in placeholder order

	id    int64
	hasID bool
	s     *Socket
	acked atomic.Bool
	// inHandler: the handler has not returned yet, so it runs on the
	// connection's reader, which flushes once it has handled what it
	// read (eio.Conn.Flush): an ack sent meanwhile is held for that
	// flush, and goes out in one write(2) with the other answers of the
	// read, without waking the connection's writer.
	inHandler atomic.Bool
	holdAcks  atomic.Bool // see HoldAcks
}

// testHookHeldAck, when set, runs between an ack's decision to be held and
// its queueing: tests widen that window with it.
var testHookHeldAck func(*Event)

// HoldAcks makes the event's ack, whenever it is sent, wait in the queue
// for the connection's next Flush (eio.Conn.Flush) instead of waking the
// connection's writer: for an answer that comes on a goroutine that
// flushes after it.
func (e *Event) HoldAcks() { e.holdAcks.Store(true) }

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Event) WantsAck() bool { return e.hasID }

// Ack answers the event with raw JSON arguments. Only the first call sends;
// it may come from any goroutine, also after the handler returned.
func (e *Event) Ack(args ...[]byte) error {
	return e.AckBinary(nil, args...)
}

// AckBinary is Ack with binary attachments.
func (e *Event) AckBinary(binary [][]byte, args ...[]byte) error {
	if !e.hasID {
		return ErrNoAck
	}
	if e.acked.Swap(true) {
		return ErrAlreadyAcked
	}
	held := e.inHandler.Load() || e.holdAcks.Load()
	if held && testHookHeldAck != nil {
		testHookHeldAck(e)
	}
	if !held {
		p := socketio.Packet{Type: socketio.Ack, ID: e.id, HasID: true, Data: socketio.AppendArgs(nil, args...)}
		return e.s.packet(p, binary)
	}
	err := e.sendHeld(binary, args)
	if !e.holdAcks.Load() && !e.inHandler.Load() {
		// Held for the reader's flush, but the handler returned meanwhile:
		// that flush may have come before the ack was queued.
		e.s.cl.conn.Flush()
	}
	return err
}

// sendHeld queues the ack for the connection's next Flush.
func (e *Event) sendHeld(binary [][]byte, args [][]byte) error {
	if len(binary) == 0 {
		// The common answer, encoded straight into a pooled frame.
		bp := eio.FrameBuffer()
		b := append((*bp)[:0], byte(engineio.Message))
		b = socketio.Append(b, socketio.Packet{Type: socketio.Ack, Namespace: e.s.nsp.name, ID: e.id, HasID: true})
		*bp = socketio.AppendArgs(b, args...)
		return e.s.cl.conn.SendFrameHeld(bp)
	}
	p := socketio.Packet{Type: socketio.Ack, Namespace: e.s.nsp.name, ID: e.id, HasID: true, Data: socketio.AppendArgs(nil, args...)}
	return e.s.cl.conn.SendHeld(encode(p, binary)...)
}
