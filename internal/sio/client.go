package sio

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// client is the Socket.IO side of one Engine.IO connection: it decodes
// packets and routes them to the connection's sockets, one per namespace.
type client struct {
	srv  *Server
	conn *eio.Conn
	dec  socketio.Decoder // used only from Handler calls, which never overlap

	mu sync.Mutex
	// sockets holds one per namespace joined. A slice, not a map: a
	// connection joins one or a few, and a map's first group alone would
	// cost every connection 200 bytes more.
	sockets []*Socket
	// connecting is the socket whose CONNECT the middlewares are judging
	// (one at a time: they run on the reader); the connection's end
	// cancels it with the joined ones, so that a middleware waiting on
	// something (the gateway's edge dials a backend) learns of it.
	connecting *Socket
	closed     bool
	timer      *time.Timer // connect timeout; nil once a namespace joined
}

func newClient(s *Server, c *eio.Conn) *client {
	cl := &client{
		srv:  s,
		conn: c,
		dec:  socketio.Decoder{MaxAttachments: s.cfg.MaxAttachments, MaxPacketSize: s.cfg.MaxPacketSize},
	}
	cl.timer = time.AfterFunc(s.cfg.ConnectTimeout, cl.connectTimeout)
	return cl
}

// socketLocked returns the socket joined to the namespace named name, or
// nil. cl.mu is held.
func (cl *client) socketLocked(name string) *Socket {
	for _, s := range cl.sockets {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

// connectTimeout closes a connection that joined no namespace in time.
func (cl *client) connectTimeout() {
	cl.mu.Lock()
	idle := len(cl.sockets) == 0 && !cl.closed
	cl.mu.Unlock()
	if idle {
		cl.conn.Close()
	}
}

func (cl *client) onMessage(data []byte, binary bool) {
	var (
		m        socketio.Message
		complete bool
		err      error
	)
	if binary {
		m, complete, err = cl.dec.Binary(data)
	} else {
		m, complete, err = cl.dec.Text(data)
	}
	if err != nil {
		cl.protocolError(err)
		return
	}
	if complete {
		cl.dispatch(m)
	}
}

// protocolError closes the connection, as Node does for a packet it cannot
// decode or does not expect.
func (cl *client) protocolError(err error) {
	cl.conn.CloseWith(fmt.Errorf("%w: %w", ErrProtocol, err))
}

func (cl *client) dispatch(m socketio.Message) {
	cl.mu.Lock()
	s := cl.socketLocked(m.Namespace)
	cl.mu.Unlock()
	switch {
	case s == nil && m.Type == socketio.Connect:
		cl.connect(m)
	case s != nil && m.Type != socketio.Connect && m.Type != socketio.ConnectError:
		s.onPacket(m)
	default:
		cl.protocolError(fmt.Errorf("%v for namespace %q in the wrong state", m.Type, m.Namespace))
	}
}

// connect handles CONNECT for a namespace the client has not joined.
func (cl *client) connect(m socketio.Message) {
	n := cl.srv.namespace(m.Namespace)
	if n == nil {
		_ = cl.send(socketio.Packet{
			Type:      socketio.ConnectError,
			Namespace: m.Namespace,
			Data:      []byte(`{"message":"Invalid namespace"}`),
		}, nil)
		return
	}
	auth := m.Data
	if auth == nil {
		auth = []byte("{}")
	}
	s := newSocket(n, cl, auth)
	cl.mu.Lock()
	// The connection's context ends before cancelSockets runs: checked
	// under cl.mu, either this sees it, or cancelSockets sees s.
	if reason := cl.closingReason(); reason != nil {
		cl.mu.Unlock()
		s.cancel(reason)
		return
	}
	cl.connecting = s
	cl.mu.Unlock()
	for _, mw := range n.middlewares() {
		if err := mw(s); err != nil {
			cl.mu.Lock()
			cl.connecting = nil
			cl.mu.Unlock()
			s.cancel(err)
			_ = cl.send(socketio.Packet{Type: socketio.ConnectError, Namespace: n.name, Data: connectErrorPayload(err)}, nil)
			return
		}
	}
	cl.mu.Lock()
	cl.connecting = nil
	if reason := cl.closingReason(); cl.closed || reason != nil {
		cl.mu.Unlock()
		s.cancel(cmp.Or(reason, eio.ErrClosed))
		return
	}
	cl.sockets = append(cl.sockets, s)
	if cl.timer != nil {
		cl.timer.Stop()
		cl.timer = nil // not kept for the life of the connection
	}
	cl.mu.Unlock()
	// The answer goes out before the socket can receive broadcasts, and
	// before what was emitted to it while the middlewares ran.
	s.joined(socketio.Packet{Type: socketio.Connect, Namespace: n.name, Data: []byte(`{"sid":"` + s.id + `"}`)})
	n.add(s)
	if f := n.onConnect(); f != nil {
		f(s)
	}
}

// send encodes p with its attachments and queues them as one unit.
func (cl *client) send(p socketio.Packet, binary [][]byte) error {
	return cl.conn.Send(encode(p, binary)...)
}

// encode turns a Socket.IO packet into its Engine.IO packets: the text
// packet, then one binary packet per attachment.
func encode(p socketio.Packet, binary [][]byte) []engineio.Packet {
	text, bins := socketio.Encode(socketio.Message{Packet: p, Binary: binary})
	out := make([]engineio.Packet, 0, 1+len(bins))
	out = append(out, engineio.Packet{Type: engineio.Message, Data: text})
	for _, b := range bins {
		out = append(out, engineio.Packet{Type: engineio.Message, Data: b, Binary: true})
	}
	return out
}

// remove forgets s after it left its namespace.
func (cl *client) remove(s *Socket) {
	cl.mu.Lock()
	if i := slices.Index(cl.sockets, s); i >= 0 {
		cl.sockets = slices.Delete(cl.sockets, i, i+1)
	}
	cl.mu.Unlock()
}

// closingReason is why the connection is ending, nil while it is not.
func (cl *client) closingReason() error { return context.Cause(cl.conn.Context()) }

// cancelSockets ends the contexts of the connection's sockets, ahead of
// onClose (see Server.OnClosing).
func (cl *client) cancelSockets(err error) {
	cl.mu.Lock()
	socks := slices.Clone(cl.sockets)
	if cl.connecting != nil {
		socks = append(socks, cl.connecting)
	}
	cl.mu.Unlock()
	for _, s := range socks {
		s.cancel(err)
	}
}

// joined returns the sockets joined now, for use outside cl.mu.
func (cl *client) joined() []*Socket {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.sockets)
}

// onClose ends every socket of the connection with the connection's reason.
func (cl *client) onClose(err error) {
	cl.mu.Lock()
	cl.closed = true
	if cl.timer != nil {
		cl.timer.Stop()
	}
	socks := cl.sockets
	cl.sockets = nil
	cl.mu.Unlock()
	for _, s := range socks {
		s.onClose(err)
	}
}

// disconnectAll sends DISCONNECT for every namespace, then closes the
// connection (Socket.Close).
func (cl *client) disconnectAll() {
	for _, s := range cl.joined() {
		s.disconnect(ErrServerClose)
	}
	cl.conn.CloseWith(ErrServerClose)
}
