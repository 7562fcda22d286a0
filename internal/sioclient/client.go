package sioclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// Client is one Engine.IO session to a Socket.IO server (the official
// client's Manager), carrying any number of namespace sockets. It does not
// reconnect: when the session ends, Done is closed, Err tells why, and
// every socket ends with the same error. All methods are safe for
// concurrent use.
type Client struct {
	opts Options
	eng  *engine
	dec  socketio.Decoder // used by the reading goroutine only
	// names interns event and channel names; reading goroutine only.
	names socketio.Names

	mu      sync.Mutex
	sockets map[string]*Socket // by namespace: connecting or connected
}

// Dial opens an Engine.IO session to rawURL, for example
// "http://127.0.0.1:8082/socket.io/" (ws:// and wss:// work too; with no
// path, Options.Path is used). Query parameters of rawURL are sent with
// every request. ctx bounds the handshake only. Call Connect next: Socket.IO
// v5 joins no namespace, not even "/", until asked.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	ep, err := endpointURL(rawURL, opts.Path)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: opts}
	// The bound is per message: a packet and each of its attachments may
	// each be as large as one.
	total := math.MaxInt
	if per := opts.MaxMessageSize; per <= int64(math.MaxInt/(1+opts.MaxAttachments)) {
		total = int(per) * (1 + opts.MaxAttachments)
	}
	c.dec = socketio.Decoder{MaxAttachments: opts.MaxAttachments, MaxPacketSize: total}
	c.eng = newEngine(&c.opts, ep)
	c.eng.onPacket = c.onPacket
	c.eng.onClose = c.onClose
	if err := c.eng.open(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// SID is the Engine.IO session id.
func (c *Client) SID() string { return c.eng.hs.SID }

// Transport names the transport in use now: "websocket" or "polling"
// (it changes from polling to websocket when an upgrade completes).
func (c *Client) Transport() string {
	c.eng.mu.Lock()
	defer c.eng.mu.Unlock()
	if _, ok := c.eng.tr.(*wsTransport); ok {
		return "websocket"
	}
	return "polling"
}

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.eng.done }

// Err is nil while the session is open, then tells why it ended:
// ErrClosed after Close, otherwise an error matching ErrTransportClosed,
// ErrHeartbeatTimeout, ErrSlowConsumer or ErrProtocol.
func (c *Client) Err() error {
	select {
	case <-c.eng.done:
		return c.eng.err
	default:
		return nil
	}
}

// Close ends the session and every socket on it (the server sees a
// transport close; sockets see ErrClosed). It waits for the client's
// goroutines to end, except when called from an OnEvent handler. It always
// returns nil; it exists to satisfy io.Closer.
func (c *Client) Close() error {
	c.eng.close()
	return nil
}

// Connect joins namespace nsp ("/" when empty), sending auth (a JSON
// object, or nil for none) as the handshake payload, and waits for the
// server's answer. A refusal is returned as *ConnectError, for example with
// Message "Invalid namespace". If ctx ends first Connect gives up; should
// the server accept later, the client leaves the namespace again.
func (c *Client) Connect(ctx context.Context, nsp string, auth []byte) (*Socket, error) {
	if nsp == "" {
		nsp = "/"
	}
	if len(auth) > 0 && !isJSONObject(auth) {
		return nil, errors.New("sioclient: connect auth must be a JSON object")
	}
	s := newSocket(c, nsp)
	c.mu.Lock()
	if err := c.Err(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if _, dup := c.sockets[nsp]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrAlreadyConnected, nsp)
	}
	if c.sockets == nil {
		c.sockets = make(map[string]*Socket)
	}
	c.sockets[nsp] = s
	c.mu.Unlock()

	err := c.sendPacket(ctx, socketio.Message{Packet: socketio.Packet{Type: socketio.Connect, Namespace: nsp, Data: auth}})
	if err == nil {
		select {
		case <-s.ready:
			err = s.connErr
		case <-ctx.Done():
			err = ctx.Err()
		case <-c.eng.done:
			err = c.eng.err
		case <-s.done: // a DISCONNECT for the namespace, say
			err = s.Err()
		}
	}
	if err == nil {
		err = s.markConnected()
	}
	if err != nil {
		c.remove(s)
		s.end(err)
		return nil, err
	}
	return s, nil
}

// isJSONObject is a cheap check of the auth payload's shape; the server
// validates the rest.
func isJSONObject(b []byte) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal(b, &v) == nil && v != nil
}

// remove forgets s if it is still the socket of its namespace.
func (c *Client) remove(s *Socket) {
	c.mu.Lock()
	if c.sockets[s.nsp] == s {
		delete(c.sockets, s.nsp)
	}
	c.mu.Unlock()
}

func (c *Client) socket(nsp string) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sockets[nsp]
}

// sendPacket encodes m and writes it with its attachments as one unit.
func (c *Client) sendPacket(ctx context.Context, m socketio.Message) error {
	if len(m.Binary) == 0 && !m.Type.IsBinary() {
		bp := textPool.Get()
		*bp = socketio.Append(*bp, m.Packet)
		return c.sendText(ctx, bp)
	}
	text, bin := socketio.Encode(m)
	if len(bin) == 0 {
		return c.eng.send(ctx, engineio.Packet{Type: engineio.Message, Data: text})
	}
	ps := make([]engineio.Packet, 0, 1+len(bin))
	ps = append(ps, engineio.Packet{Type: engineio.Message, Data: text})
	for _, b := range bin {
		ps = append(ps, engineio.Packet{Type: engineio.Message, Data: b, Binary: true})
	}
	return c.eng.send(ctx, ps...)
}

// sendEvent sends an EVENT without attachments, encoded in one pass.
func (c *Client) sendEvent(ctx context.Context, nsp string, id int64, hasID bool, event string, args [][]byte) error {
	bp := textPool.Get()
	*bp = socketio.Append(*bp, socketio.Packet{Type: socketio.Event, Namespace: nsp, ID: id, HasID: hasID})
	*bp = socketio.AppendEvent(*bp, event, args...)
	return c.sendText(ctx, bp)
}

// sendText sends the Socket.IO packet encoded in *bp, a buffer from
// textPool, which it gives back: the write copies the frame.
func (c *Client) sendText(ctx context.Context, bp *[]byte) error {
	err := c.eng.send(ctx, engineio.Packet{Type: engineio.Message, Data: *bp})
	textPool.Put(bp)
	return err
}

// onPacket reassembles Socket.IO packets from Engine.IO messages, on the
// reading goroutine.
func (c *Client) onPacket(p engineio.Packet) {
	var (
		m        socketio.Message
		complete bool
		err      error
	)
	if p.Binary {
		m, complete, err = c.dec.Binary(p.Data)
	} else {
		m, complete, err = c.dec.Text(p.Data)
	}
	if err != nil {
		c.eng.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
		return
	}
	if complete {
		c.dispatch(m)
	}
}

func (c *Client) dispatch(m socketio.Message) {
	nsp := m.Namespace
	if nsp == "" {
		nsp = "/"
	}
	s := c.socket(nsp)
	switch m.Type {
	case socketio.Connect:
		if s == nil || !s.accept(m.Data) {
			// A namespace we gave up on (Connect's ctx ended) or never
			// asked for: leave it again.
			_ = c.sendPacket(context.Background(), socketio.Message{Packet: socketio.Packet{Type: socketio.Disconnect, Namespace: nsp}})
		}
	case socketio.ConnectError:
		if s != nil {
			s.refuse(m.Data)
		}
	case socketio.Disconnect:
		if s != nil {
			c.remove(s)
			s.end(ErrServerDisconnect)
		}
	case socketio.Event, socketio.BinaryEvent:
		if s != nil {
			if err := s.deliver(m); err != nil {
				c.eng.fail(err)
			}
		}
	case socketio.Ack, socketio.BinaryAck:
		if s != nil {
			s.resolve(m)
		}
	}
}

// onClose ends every socket when the session ends, then tells OnClose.
func (c *Client) onClose(err error) {
	c.mu.Lock()
	sockets := c.sockets
	c.sockets = nil
	c.mu.Unlock()
	for _, s := range sockets {
		s.end(err)
	}
	if c.opts.OnClose != nil {
		c.opts.OnClose(c, err)
	}
}
