package sioclient

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// transport is one way of carrying Engine.IO packets: a websocket or HTTP
// long-polling. The engine serializes send calls; exactly one goroutine
// reads from a transport at a time.
type transport interface {
	// send writes ps in order and contiguously (a Socket.IO packet and its
	// binary attachments must not interleave with other packets), bounded
	// by ctx. The packets' Data is lent for the call only.
	send(ctx context.Context, ps []engineio.Packet) error
	// boundsWrites reports whether a send with a context without deadline
	// is bounded all the same, by Options.WriteTimeout.
	boundsWrites() bool
	// shutdown says goodbye to the server (close packet or close frame),
	// bounded by ctx, and releases the transport.
	shutdown(ctx context.Context)
	// abort releases the transport at once, unblocking its reader.
	abort()
}

// engine is one Engine.IO session: the handshake, the heartbeat, a
// serialized write path and the switch from polling to websocket.
//
// Lock order: wmu (a 1-slot channel, held for a whole write or a transport
// switch) before mu (guards tr and closed; never held during I/O).
type engine struct {
	opts     *Options
	endpoint *url.URL // scheme http(s), path set, no query
	hs       engineio.Handshake
	renew    wsconn.Renewal // the websocket reader's (see readWebSocket)

	// onPacket receives every packet but Ping/Pong/Noop/Close, on the
	// single reading goroutine, in order.
	onPacket func(engineio.Packet)
	// onClose runs once, after done is closed, with the final error.
	onClose func(error)

	wmu chan struct{}

	mu     sync.Mutex
	tr     transport
	closed bool

	heartbeat *time.Timer
	hbWindow  time.Duration

	once sync.Once
	done chan struct{}
	err  error // set before done is closed

	wg sync.WaitGroup // reading goroutines (reader, poller, upgrader)
	// inCallback counts reading-goroutine calls that may run user code
	// (handlers, close callbacks) in progress, so that Close called from
	// inside one does not wait for its own goroutine.
	inCallback atomic.Int32
}

func newEngine(opts *Options, endpoint *url.URL) *engine {
	return &engine{
		opts:     opts,
		endpoint: endpoint,
		wmu:      make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// endpointURL turns the user's URL into the Engine.IO endpoint: http(s)
// scheme (ws/wss accepted), Options.Path when the URL has no path, and no
// query (the caller's query parameters are kept and sent on every request).
func endpointURL(raw, path string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("sioclient: bad url: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("sioclient: bad url %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("sioclient: bad url %q: no host", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = path
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.Fragment = ""
	return u, nil
}

// requestURL is the endpoint with the Engine.IO query for one transport.
func (e *engine) requestURL(transport string, sid string) string {
	u := *e.endpoint
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", transport)
	if sid != "" {
		q.Set("sid", sid)
	}
	u.RawQuery = q.Encode()
	if transport == "websocket" {
		if u.Scheme == "https" {
			u.Scheme = "wss"
		} else {
			u.Scheme = "ws"
		}
	}
	return u.String()
}

// open performs the handshake on the configured transport and starts
// reading.
func (e *engine) open(ctx context.Context) error {
	if e.opts.Transport == WebSocket {
		return e.openWebSocket(ctx)
	}
	return e.openPolling(ctx)
}

// handshake records the server's Open packet and arms the heartbeat.
func (e *engine) handshake(p engineio.Packet) error {
	if p.Type != engineio.Open {
		return fmt.Errorf("%w: first packet is %v, want open", ErrProtocol, p.Type)
	}
	hs, err := engineio.ParseHandshake(p.Data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if hs.PingInterval <= 0 || hs.PingTimeout <= 0 {
		return fmt.Errorf("%w: handshake without pingInterval/pingTimeout", ErrProtocol)
	}
	e.hs = hs
	e.hbWindow = time.Duration(hs.PingInterval+hs.PingTimeout) * time.Millisecond
	e.heartbeat = time.AfterFunc(e.hbWindow, func() {
		e.fail(fmt.Errorf("%w: no ping for %v", ErrHeartbeatTimeout, e.hbWindow))
	})
	return nil
}

// receive handles one incoming packet on the reading goroutine.
func (e *engine) receive(p engineio.Packet) {
	e.inCallback.Add(1)
	defer e.inCallback.Add(-1)
	switch p.Type {
	case engineio.Ping:
		select {
		case <-e.done:
			return // keep the stopped timer stopped
		default:
		}
		e.heartbeat.Reset(e.hbWindow)
		// Answered from the reading goroutine like every other write: it
		// waits at most for one in-flight write (WriteTimeout).
		_ = e.send(context.Background(), engineio.Packet{Type: engineio.Pong, Data: p.Data})
	case engineio.Close:
		e.fail(fmt.Errorf("%w: server closed the session", ErrTransportClosed))
	case engineio.Message:
		e.onPacket(p)
	case engineio.Pong, engineio.Noop, engineio.Upgrade, engineio.Open:
		// Pong/Noop carry nothing once open; a repeated Open or an Upgrade
		// from the server is meaningless and ignored like the official
		// client does.
	}
}

// drained tells Options.OnDrained that the reader has handled what it
// has read.
func (e *engine) drained() {
	if h := e.opts.OnDrained; h != nil {
		h()
	}
}

// send writes packets as one unit. ctx bounds the wait for the write lock;
// the write itself is bounded by Options.WriteTimeout, and a failed write
// ends the session.
func (e *engine) send(ctx context.Context, ps ...engineio.Packet) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if limit := e.opts.MaxSendSize; limit > 0 {
		if n := sendSize(ps); n > limit {
			return &SizeError{Size: n, Limit: limit}
		}
	}
	select {
	case e.wmu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return e.err
	}
	defer func() { <-e.wmu }()

	e.mu.Lock()
	tr, closed := e.tr, e.closed
	e.mu.Unlock()
	if closed {
		return e.err
	}
	wctx := context.Background()
	if !tr.boundsWrites() {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(wctx, e.opts.WriteTimeout)
		defer cancel()
	}
	if err := tr.send(wctx, ps); err != nil {
		e.fail(fmt.Errorf("%w: write: %w", ErrTransportClosed, err))
		return e.err
	}
	return nil
}

// sendSize is what ps weigh against Options.MaxSendSize: their bytes on
// a websocket, a text message's type byte included.
func sendSize(ps []engineio.Packet) int64 {
	var n int64
	for _, p := range ps {
		n += int64(len(p.Data))
		if !p.Binary {
			n++
		}
	}
	return n
}

// fail ends the session with err (first caller wins) and aborts the
// transport. It never blocks on I/O, so any goroutine may call it.
func (e *engine) fail(err error) {
	e.finish(err, nil)
}

// close ends the session politely: the transport says goodbye within
// WriteTimeout. It waits for the reading goroutines unless one of them is
// running user code (Close called from a handler or close callback cannot
// wait for its own goroutine).
func (e *engine) close() {
	e.finish(ErrClosed, func(tr transport) {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.WriteTimeout)
		defer cancel()
		tr.shutdown(ctx)
	})
	if e.inCallback.Load() == 0 {
		e.wg.Wait()
	}
}

// finish ends the session once. onClose runs outside the Once so that it
// may call close itself.
func (e *engine) finish(err error, shutdown func(transport)) {
	first := false
	e.once.Do(func() {
		first = true
		e.mu.Lock()
		e.err = err // before closed: send reads it once it sees closed
		e.closed = true
		tr := e.tr
		e.mu.Unlock()

		if e.heartbeat != nil {
			e.heartbeat.Stop()
		}
		close(e.done)
		if tr != nil {
			if shutdown != nil {
				shutdown(tr)
			} else {
				tr.abort()
			}
		}
	})
	if first && e.onClose != nil {
		e.onClose(err)
	}
}

// setTransport installs tr unless the session already ended, in which case
// it reports false and the caller must release tr.
func (e *engine) setTransport(tr transport) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.tr = tr
	return true
}

// failOwn is fail called from one of the engine's own goroutines, which
// close must not wait for should a close callback call it.
func (e *engine) failOwn(err error) {
	e.inCallback.Add(1)
	defer e.inCallback.Add(-1)
	e.fail(err)
}

// readErr turns a transport read error into the session's end, on the
// reading goroutine.
func (e *engine) readErr(err error) {
	select {
	case <-e.done:
		return // we closed it; the read error is the consequence
	default:
	}
	e.failOwn(fmt.Errorf("%w: read: %w", ErrTransportClosed, err))
}
