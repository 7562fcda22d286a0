package sioclient

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/bufpool"
	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// wsTransport carries one Engine.IO packet per websocket message: text
// packets as text frames, binary messages as raw binary frames.
type wsTransport struct {
	// c is a *wsconn.Client (no buffer kept while idle, a reader that
	// parks on a short stack; the gateway holds one per session on a
	// Socket.IO backend) when Options.HTTPClient is the default, else a
	// *websocket.Conn dialed through that client.
	c wsconn.Conn
}

// boundsWrites: a *wsconn.Client bounds a write without a deadline by the
// WriteTimeout it was dialed with, so a write costs no context.
func (t *wsTransport) boundsWrites() bool {
	_, ok := t.c.(*wsconn.Client)
	return ok
}

func (t *wsTransport) send(ctx context.Context, ps []engineio.Packet) error {
	bp := textPool.Get()
	defer textPool.Put(bp)
	for _, p := range ps {
		if p.Binary {
			if err := t.c.Write(ctx, websocket.MessageBinary, p.Data); err != nil {
				return err
			}
			continue
		}
		*bp = engineio.AppendText((*bp)[:0], p)
		if err := t.c.Write(ctx, websocket.MessageText, *bp); err != nil {
			return err
		}
	}
	return nil
}

// textPool holds the buffers packets are encoded into for a write, and
// sendPacket's: a write copies its frame, so they are free once it returns.
var textPool = bufpool.New(512, 64<<10)

func (t *wsTransport) shutdown(context.Context) {
	// Close starts the close handshake, bounded (5s) by coder/websocket
	// or, for a wsconn.Client, by the reader, which sees the answer. The
	// server reports "transport close" to its handlers.
	_ = t.c.Close(websocket.StatusNormalClosure, "")
}

func (t *wsTransport) abort() { _ = t.c.CloseNow() }

// dialWebSocket opens a websocket to the endpoint, for a new session (sid
// empty) or to upgrade an existing one.
func (e *engine) dialWebSocket(ctx context.Context, sid string) (wsconn.Conn, error) {
	via := e.opts.HTTPClient
	if via == http.DefaultClient {
		via = nil // nothing to go through: the cheaper wsconn.Client
	}
	c, err := wsconn.DialVia(ctx, e.requestURL("websocket", sid), via, wsconn.ClientOptions{
		Header:       e.opts.Header,
		ReadLimit:    e.opts.MaxMessageSize,
		WriteTimeout: e.opts.WriteTimeout,
		// The Engine.IO heartbeat watches the peer: a dead server is
		// found within its pingInterval+pingTimeout (45s with the official
		// server's defaults; TCP keep-alive would take 150s).
		KeepAlive: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: websocket dial: %w", ErrTransportClosed, err)
	}
	return c, nil
}

// readMessage reads one websocket message as an Engine.IO packet.
func readMessage(ctx context.Context, c wsconn.Conn) (engineio.Packet, error) {
	return decodeMessage(c.Read(ctx))
}

// readLent is readMessage for the read loop: a text message is decoded
// where it lies in c's read buffer when c can lend it, valid until the
// next read (what keeps it longer copies it: see Options.OnEvent). A
// binary one, an attachment the decoder keeps, gets bytes of its own.
func readLent(c wsconn.Conn) (engineio.Packet, error) {
	typ, data, err := wsconn.ReadLent(context.Background(), c)
	if typ == websocket.MessageBinary {
		data = bytes.Clone(data)
	}
	return decodeMessage(typ, data, err)
}

// decodeMessage decodes what a read returned.
func decodeMessage(typ websocket.MessageType, b []byte, err error) (engineio.Packet, error) {
	if err != nil {
		return engineio.Packet{}, err
	}
	if typ == websocket.MessageBinary {
		return engineio.DecodeBinary(b), nil
	}
	p, err := engineio.DecodeText(b)
	if err != nil {
		return engineio.Packet{}, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return p, nil
}

// openWebSocket starts a session directly on a websocket: the first message
// is the server's Open packet.
func (e *engine) openWebSocket(ctx context.Context) error {
	c, err := e.dialWebSocket(ctx, "")
	if err != nil {
		return err
	}
	p, err := readMessage(ctx, c)
	if err == nil {
		err = e.handshake(p)
	}
	if err != nil {
		_ = c.CloseNow()
		return fmt.Errorf("sioclient: handshake: %w", err)
	}
	if !e.setTransport(&wsTransport{c: c}) {
		// The heartbeat, armed by the handshake, ended the session first.
		_ = c.CloseNow()
		return fmt.Errorf("sioclient: handshake: %w", e.err)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.readWebSocket(c)
	}()
	return nil
}

// maxBurst bounds the messages handled between two OnDrained calls. A
// server that sends faster than they are handled (a long replay) keeps
// messages buffered for as long as it sends; OnDrained is where a
// handler flushes, and may wait for its own consumer (the gateway paces a
// replay there), which it can do only if it comes now and then.
const maxBurst = 64

// readWebSocket is the read loop of a websocket session. It reads with a
// context that is never canceled: the engine ends a read by closing the
// connection, which saves a context and an AfterFunc per message. It runs
// holding one unit of e.wg.
//
// When c can park, an idle session costs little: once the buffered
// messages are handled, the reader waits for the next byte on a short call
// chain, and now and then (wsconn.Renewal) a fresh goroutine (taking over
// the wg unit) takes over to wait, so the stack that reading and the
// callbacks grew is released.
func (e *engine) readWebSocket(c wsconn.Conn) {
	pk, _ := c.(wsconn.Parker)
	if pk != nil && !pk.Buffered() {
		pk.Wait()
	}
	for burst := 1; ; burst++ {
		p, err := readLent(c)
		if err != nil {
			e.readErr(err)
			return
		}
		e.receive(p)
		if pk != nil && pk.Buffered() && burst < maxBurst {
			continue // the next message is read already
		}
		burst = 0
		e.drained()
		if pk == nil || pk.Buffered() {
			continue // a burst cut short by maxBurst goes on
		}
		if e.renew.Due() {
			e.wg.Add(1) // held by this goroutine's caller until it returns
			go func() {
				defer e.wg.Done()
				e.readWebSocket(c)
			}()
			return
		}
		pk.Wait()
	}
}
