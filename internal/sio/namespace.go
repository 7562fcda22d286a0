package sio

import (
	"sync"

	"github.com/baton-rt/baton/internal/wire/socketio"
)

// EventHandler handles one event received on a socket.
type EventHandler func(s *Socket, e *Event)

// Namespace is one Socket.IO namespace: its handlers, its connected sockets
// and their rooms. Register handlers before clients connect.
type Namespace struct {
	srv  *Server
	name string

	mu       sync.RWMutex
	mws      []func(*Socket) error
	onConn   func(*Socket)
	onDisc   func(*Socket, error)
	handlers map[string]EventHandler
	fallback EventHandler
	sockets  map[string]*Socket              // by socket id
	rooms    map[string]map[*Socket]struct{} // room name → members
}

func newNamespace(s *Server, name string) *Namespace {
	return &Namespace{
		srv:      s,
		name:     name,
		handlers: make(map[string]EventHandler),
		sockets:  make(map[string]*Socket),
		rooms:    make(map[string]map[*Socket]struct{}),
	}
}

// Name is the namespace's name, "/" for the main namespace.
func (n *Namespace) Name() string { return n.name }

// Use adds a middleware run for every CONNECT, in order, before the socket
// joins. An error refuses the connection with CONNECT_ERROR (see
// ConnectError). Middlewares may read the socket's Auth and Request and
// call SetValue. What is emitted to the socket before it joins, by them or
// by anything else, is sent right after the CONNECT answer, or dropped if
// the CONNECT is refused.
func (n *Namespace) Use(mw func(s *Socket) error) {
	n.mu.Lock()
	n.mws = append(n.mws, mw)
	n.mu.Unlock()
}

// OnConnect sets the function called once a socket has joined (after the
// client got its CONNECT answer).
func (n *Namespace) OnConnect(f func(s *Socket)) {
	n.mu.Lock()
	n.onConn = f
	n.mu.Unlock()
}

// OnDisconnect sets the function called once a socket has left, with the
// reason (ErrClientDisconnect, ErrServerDisconnect, or the connection's
// close reason from package eio).
func (n *Namespace) OnDisconnect(f func(s *Socket, reason error)) {
	n.mu.Lock()
	n.onDisc = f
	n.mu.Unlock()
}

// On sets the handler of event. Events without a handler go to the OnAny
// handler, or are dropped (an ack they ask for is never sent, as in Node).
func (n *Namespace) On(event string, h EventHandler) {
	n.mu.Lock()
	n.handlers[event] = h
	n.mu.Unlock()
}

// OnAny sets the handler for events that have no handler of their own.
func (n *Namespace) OnAny(h EventHandler) {
	n.mu.Lock()
	n.fallback = h
	n.mu.Unlock()
}

func (n *Namespace) middlewares() []func(*Socket) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.mws
}

func (n *Namespace) onConnect() func(*Socket) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onConn
}

func (n *Namespace) onDisconnect() func(*Socket, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.onDisc
}

func (n *Namespace) handler(event string) EventHandler {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if h := n.handlers[event]; h != nil {
		return h
	}
	return n.fallback
}

// Len is the number of connected sockets.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// Socket returns the connected socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// add registers s. As in Node, it is in its own room (the room named by
// its id), which is not kept in rooms: n.sockets finds it, and no socket
// costs a room map of its own (see Socket.inOwnRoom).
func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
}

// remove drops s and its rooms.
func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.sockets, s.id)
	s.mu.Lock()
	rooms := s.rooms
	s.rooms = nil
	s.leftOwnRoom = true
	s.mu.Unlock()
	for r := range rooms {
		n.leaveRoomLocked(s, r)
	}
}

func (n *Namespace) joinLocked(s *Socket, room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected {
		return
	}
	if room == s.id {
		s.leftOwnRoom = false
		return
	}
	m := n.rooms[room]
	if m == nil {
		m = make(map[*Socket]struct{})
		n.rooms[room] = m
	}
	m[s] = struct{}{}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{})
	}
	s.rooms[room] = struct{}{}
}

func (n *Namespace) leaveRoomLocked(s *Socket, room string) {
	m := n.rooms[room]
	delete(m, s)
	if len(m) == 0 {
		delete(n.rooms, room)
	}
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...[]byte) error {
	return n.To().Emit(event, args...)
}

// To starts a broadcast to the sockets in any of rooms (every socket when
// rooms is empty).
func (n *Namespace) To(rooms ...string) *Broadcast {
	return &Broadcast{n: n, rooms: rooms}
}

// Broadcast is an emission to a set of sockets of one namespace. The
// packet is encoded once and shared by all recipients; a recipient whose
// queue is full is closed as a slow consumer, the others still get it.
type Broadcast struct {
	n      *Namespace
	rooms  []string
	except []string
}

// Except leaves out the sockets in any of rooms.
func (b *Broadcast) Except(rooms ...string) *Broadcast {
	return &Broadcast{n: b.n, rooms: b.rooms, except: append(append([]string(nil), b.except...), rooms...)}
}

// Emit sends the event to the broadcast's sockets.
func (b *Broadcast) Emit(event string, args ...[]byte) error {
	return b.EmitBinary(event, nil, args...)
}

// EmitBinary is Emit with binary attachments; args reference them with
// {"_placeholder":true,"num":i}.
func (b *Broadcast) EmitBinary(event string, binary [][]byte, args ...[]byte) error {
	if reserved[event] {
		return ErrReservedEvent
	}
	group := encode(socketio.Packet{
		Type:      socketio.Event,
		Namespace: b.n.name,
		Data:      socketio.AppendEvent(nil, event, args...),
	}, binary)
	for _, s := range b.n.recipients(b.rooms, b.except) {
		_ = s.cl.conn.Send(group...) // a failure closes that socket's connection
	}
	return nil
}

func (n *Namespace) recipients(rooms, except []string) []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	skip := func(s *Socket) bool {
		for _, r := range except {
			if _, ok := n.rooms[r][s]; ok || (r == s.id && !s.leftOwnRoom) {
				return true
			}
		}
		return false
	}
	var out []*Socket
	if len(rooms) == 0 {
		out = make([]*Socket, 0, len(n.sockets))
		for _, s := range n.sockets {
			if !skip(s) {
				out = append(out, s)
			}
		}
		return out
	}
	seen := make(map[*Socket]struct{})
	for _, r := range rooms {
		if s := n.sockets[r]; s != nil && !s.leftOwnRoom && !skip(s) {
			if _, dup := seen[s]; !dup {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
		for s := range n.rooms[r] {
			if _, dup := seen[s]; dup || skip(s) {
				continue
			}
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
