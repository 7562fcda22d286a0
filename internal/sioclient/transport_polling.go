package sioclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
)

// pollTransport is HTTP long-polling: a GET loop on the reading goroutine
// (the poller) and one POST per send.
type pollTransport struct {
	e   *engine
	url string // request URL with sid

	// ctx ends every request of this transport; cancel is abort.
	ctx    context.Context
	cancel context.CancelFunc

	// pausing asks the poller to stop after its current GET (upgrade).
	pausing atomic.Bool
	// stopped is closed when the poller returns.
	stopped chan struct{}
}

// upgradeTimeout bounds the websocket probe and the pause of the poller
// during an upgrade, like the official server's upgradeTimeout (10s).
const upgradeTimeout = 10 * time.Second

// boundsWrites: a POST needs its context's deadline.
func (t *pollTransport) boundsWrites() bool { return false }

func (t *pollTransport) send(ctx context.Context, ps []engineio.Packet) error {
	// The server refuses a body over its maxPayload and ends the session,
	// so a long batch goes out in several POSTs, in order.
	limit := t.e.hs.MaxPayload
	var body []byte
	for _, p := range ps {
		seg := engineio.AppendText(nil, p)
		if len(body) > 0 && limit > 0 && len(body)+1+len(seg) > limit {
			if err := t.post(ctx, body); err != nil {
				return err
			}
			body = body[:0]
		}
		if len(body) > 0 {
			body = append(body, engineio.Separator)
		}
		body = append(body, seg...)
	}
	return t.post(ctx, body)
}

func (t *pollTransport) post(ctx context.Context, body []byte) error {
	ctx, stop := mergeCancel(ctx, t.ctx)
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	t.e.header(req)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.e.opts.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("polling POST: HTTP %s", resp.Status)
	}
	return nil
}

func (t *pollTransport) shutdown(ctx context.Context) {
	_ = t.post(ctx, engineio.AppendText(nil, engineio.Packet{Type: engineio.Close}))
	t.abort()
}

func (t *pollTransport) abort() { t.cancel() }

// mergeCancel returns a context that ends when either a or b ends.
func mergeCancel(a, b context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(a)
	stop := context.AfterFunc(b, cancel)
	return ctx, func() { stop(); cancel() }
}

func (e *engine) header(req *http.Request) {
	for k, vs := range e.opts.Header {
		req.Header[k] = slices.Clone(vs)
	}
}

// get performs one polling GET and decodes its payload.
func (e *engine) get(ctx context.Context, url string) ([]engineio.Packet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	e.header(req)
	resp, err := e.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, e.opts.MaxMessageSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("polling GET: HTTP %s: %.200s", resp.Status, body)
	}
	if int64(len(body)) > e.opts.MaxMessageSize {
		return nil, fmt.Errorf("polling GET: body over %d bytes", e.opts.MaxMessageSize)
	}
	// Not DecodePayload: its packet bound is for what a client posts. The
	// official server flushes its whole buffer into one response, however
	// many packets that is; the byte bound above bounds the work.
	var ps []engineio.Packet
	for p, err := range engineio.Packets(body) {
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// openPolling starts a session on long-polling: the first GET answers the
// Open packet. With Transport == Polling and a server offering
// "websocket", an upgrade starts in the background.
func (e *engine) openPolling(ctx context.Context) error {
	ps, err := e.get(ctx, e.requestURL("polling", ""))
	if err != nil {
		return fmt.Errorf("sioclient: handshake: %w: %w", ErrTransportClosed, err)
	}
	if len(ps) == 0 {
		return fmt.Errorf("sioclient: handshake: %w: empty payload", ErrProtocol)
	}
	if err := e.handshake(ps[0]); err != nil {
		return fmt.Errorf("sioclient: handshake: %w", err)
	}
	tctx, cancel := context.WithCancel(context.Background())
	t := &pollTransport{
		e:       e,
		url:     e.requestURL("polling", e.hs.SID),
		ctx:     tctx,
		cancel:  cancel,
		stopped: make(chan struct{}),
	}
	if !e.setTransport(t) {
		// The heartbeat, armed by the handshake, ended the session first.
		cancel()
		return fmt.Errorf("sioclient: handshake: %w", e.err)
	}

	upgrade := e.opts.Transport == Polling && slices.Contains(e.hs.Upgrades, "websocket")
	e.wg.Add(1)
	go t.poll(ps[1:])
	if upgrade {
		e.wg.Add(1)
		go e.upgrade(t)
	}
	return nil
}

// poll is the reading goroutine while the session is on polling: it
// delivers the packets that came with the handshake, then GETs until the
// session ends or an upgrade pauses it.
func (t *pollTransport) poll(first []engineio.Packet) {
	defer t.e.wg.Done()
	defer close(t.stopped)
	for _, p := range first {
		t.e.receive(p)
	}
	t.e.drained()
	for !t.pausing.Load() {
		ps, err := t.e.get(t.ctx, t.url)
		if err != nil {
			t.e.readErr(err)
			return
		}
		for _, p := range ps {
			t.e.receive(p)
		}
		t.e.drained()
	}
}

// upgrade moves the session from polling to a websocket, in the official
// client's order: probe the websocket ("2probe" → "3probe"), pause polling
// (the server releases the pending GET with a noop), send "5" on the
// websocket, then read from it. Writes wait meanwhile on the write lock, so
// no packet is sent on the old transport after the upgrade packet. A failed
// probe leaves the session on polling, as the official client does; a
// failure after the pause ends the session.
func (e *engine) upgrade(t *pollTransport) {
	defer e.wg.Done()
	ctx, cancel := context.WithTimeout(t.ctx, upgradeTimeout)
	defer cancel()

	c, err := e.dialWebSocket(ctx, e.hs.SID)
	if err != nil {
		return
	}
	ws := &wsTransport{c: c}
	if err := ws.send(ctx, []engineio.Packet{{Type: engineio.Ping, Data: []byte(engineio.Probe)}}); err != nil {
		_ = c.CloseNow()
		return
	}
	p, err := readMessage(ctx, c)
	if err != nil || p.Type != engineio.Pong || string(p.Data) != engineio.Probe {
		_ = c.CloseNow()
		return
	}

	t.pausing.Store(true)
	select {
	case <-t.stopped:
	case <-ctx.Done():
		_ = c.CloseNow()
		e.failOwn(fmt.Errorf("%w: upgrade: polling did not pause: %w", ErrTransportClosed, ctx.Err()))
		return
	}
	select {
	case <-e.done:
		// The poller stopped because the session ended.
		_ = c.CloseNow()
		return
	default:
	}

	// Take the write lock so that no write is in flight on polling.
	select {
	case e.wmu <- struct{}{}:
	case <-e.done:
		_ = c.CloseNow()
		return
	}
	err = ws.send(ctx, []engineio.Packet{{Type: engineio.Upgrade}})
	if err == nil && !e.setTransport(ws) {
		err = ErrClosed
	}
	<-e.wmu
	if err != nil {
		_ = c.CloseNow()
		e.failOwn(fmt.Errorf("%w: upgrade: %w", ErrTransportClosed, err))
		return
	}
	t.abort()

	// This goroutine becomes the websocket reader.
	e.readWebSocket(c)
}
