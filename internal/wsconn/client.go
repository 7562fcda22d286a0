package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Client defaults.
const (
	DefaultClientReadSize  = 512
	DefaultClientReadLimit = 1 << 20
	// clientWriteTimeout is ClientOptions.WriteTimeout's default.
	clientWriteTimeout = 10 * time.Second
	// closeGrace is how long Close leaves the reader to see the peer's
	// close frame before its read fails.
	closeGrace = 5 * time.Second
)

// Client errors.
var (
	ErrHandshake = errors.New("wsconn: handshake refused")
	ErrProtocol  = errors.New("wsconn: protocol error")
	ErrTooLarge  = errors.New("wsconn: message too big")
)

// ClientOptions configure Dial.
type ClientOptions struct {
	// Header is sent with the handshake.
	Header http.Header
	// ReadSize sizes the read buffer. Zero means DefaultClientReadSize,
	// whose buffers are shared: a connection gives its buffer back when
	// its reader parks with nothing buffered (Wait), so an idle one holds
	// none. A buffer of any other size is kept for the connection's life.
	ReadSize int
	// ReadLimit bounds one incoming message; a larger one ends the
	// connection with 1009. Zero means DefaultClientReadLimit.
	ReadLimit int64
	// WriteTimeout bounds a write whose context has no deadline. Zero
	// means 10s.
	WriteTimeout time.Duration
	// KeepAlive is the TCP keep-alive period, as in net.Dialer: zero
	// means Go's default (15s), negative turns keep-alive off. A protocol
	// with a heartbeat of its own (Engine.IO) finds a dead peer without
	// it, and saves its four setsockopt calls a dial. It applies to Dial;
	// DialVia through an http.Client leaves it to that client's dialer.
	KeepAlive time.Duration
}

// Client is the client side of a WebSocket connection (RFC 6455, no
// extensions), made for holding many idle connections: no read buffer
// kept while idle (see ClientOptions.ReadSize), no write buffer, and a
// reader that can park on a short stack (Buffered, Wait). Its methods
// match those of *websocket.Conn that a message reader and writer need,
// with the same types.
//
// One goroutine reads (Read, Buffered, Wait); Write, Close and CloseNow
// may be called from any goroutine.
type Client struct {
	in           parkConn
	br           *bufio.Reader // nil while parked with nothing buffered (see reader)
	size         int
	limit        int64
	writeTimeout time.Duration // for a write whose context has no deadline

	// wsem lets one frame out at a time; a writer waits for it within its
	// context. closeSent is guarded by it.
	wsem      chan struct{}
	closeSent bool
	// pongs counts the pong frames read (Pongs); it fits beside
	// closeSent, in what was padding.
	pongs atomic.Uint32
}

// Dial opens a WebSocket connection to rawURL (ws:// or wss://); ctx
// bounds connecting and the handshake.
func Dial(ctx context.Context, rawURL string, o ClientOptions) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("wsconn: %w", err)
	}
	secure := false
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		secure = true
	default:
		return nil, fmt.Errorf("wsconn: unsupported scheme %q", u.Scheme)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[bool]string{false: "80", true: "443"}[secure])
	}
	d := net.Dialer{KeepAlive: o.KeepAlive}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if secure {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("wsconn: tls: %w", err)
		}
		conn = tc
	}
	c, err := handshake(ctx, conn, u, o)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return c, nil
}

// handshake sends the upgrade request over conn and checks the answer.
func handshake(ctx context.Context, conn net.Conn, u *url.URL, o ClientOptions) (*Client, error) {
	// The context bounds the handshake through the deadline and through
	// a cancel that cuts it short.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var raw [16]byte
	_, _ = rand.Read(raw[:])
	key := base64.StdEncoding.EncodeToString(raw[:])
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	req.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n")
	h := o.Header.Clone()
	for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions"} {
		h.Del(k)
	}
	if err := h.Write(&req); err != nil { // it strips CR and LF from values
		return nil, fmt.Errorf("wsconn: %w", err)
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		return nil, fmt.Errorf("wsconn: handshake: %w", err)
	}

	size := o.ReadSize
	if size <= 0 {
		size = DefaultClientReadSize
	}
	c := &Client{size: size, limit: o.ReadLimit, writeTimeout: o.WriteTimeout, wsem: make(chan struct{}, 1)}
	if c.limit <= 0 {
		c.limit = DefaultClientReadLimit
	}
	if c.writeTimeout <= 0 {
		c.writeTimeout = clientWriteTimeout
	}
	// The answer is read through a budget: a backend sending an endless
	// header would otherwise have it buffered whole.
	c.in.Conn = &budgetConn{Conn: conn, left: maxHandshakeBytes}
	c.in.raw = rawOf(conn)
	resp, err := http.ReadResponse(c.reader(), &http.Request{Method: http.MethodGet, URL: u})
	c.in.Conn = conn
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("wsconn: handshake: %w", err)
	}
	_ = resp.Body.Close() // a 101 has no body; bytes after it stay in br
	if err := checkUpgrade(resp, key); err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return c, nil
}

// maxHandshakeBytes bounds what a dial reads from the socket for the
// server's answer to the upgrade: the status line and the headers, and
// whatever came in with them.
const maxHandshakeBytes = 64 << 10

// errHandshakeTooLarge ends a dial whose answer overran maxHandshakeBytes.
var errHandshakeTooLarge = fmt.Errorf("%w: the answer's header is over %d bytes", ErrHandshake, maxHandshakeBytes)

// budgetConn reads at most left bytes from Conn, then fails.
type budgetConn struct {
	net.Conn
	left int
}

func (b *budgetConn) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errHandshakeTooLarge
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.Conn.Read(p)
	b.left -= n
	return n, err
}

// acceptGUID is the fixed suffix of the Sec-WebSocket-Accept digest.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func checkUpgrade(resp *http.Response, key string) error {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("%w: status %s", ErrHandshake, resp.Status)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!HeaderHasToken(resp.Header, "Connection", "upgrade") {
		return fmt.Errorf("%w: no websocket upgrade in the answer", ErrHandshake)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("%w: wrong Sec-WebSocket-Accept", ErrHandshake)
	}
	if resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		return fmt.Errorf("%w: extensions were not asked for", ErrHandshake)
	}
	return nil
}

// HeaderHasToken reports whether the comma-separated header name holds
// token, case-insensitively (Connection: keep-alive, Upgrade).
func HeaderHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Buffered reports whether bytes already read from the socket wait in
// the read buffer: then the next Read needs no socket read.
func (c *Client) Buffered() bool {
	return c.br != nil && c.br.Buffered() > 0 || c.in.hasEarly()
}

// Wait blocks until the peer sends something or the connection fails, on
// a short call chain (see Link.Wait). It reads what has arrived in one
// read(2), so a small message costs no second read, and a failed read is
// kept for the next Read to return. An empty read buffer of the shared
// size goes back to its pool first: a parked connection holds none.
//
// Ping and pong frames that arrive whole and alone (the pong that answers
// SendPing, the peer's own ping) are handled here, as Read would, and the
// wait goes on: a heartbeat does not wake the reader only to leave it
// blocked deep in Read, with a read buffer and a larger stack, until the
// next message.
func (c *Client) Wait() {
	for {
		if c.br != nil && c.br.Buffered() == 0 && c.size == DefaultClientReadSize {
			c.br.Reset(nil)
			readerPool.Put(c.br)
			c.br = nil
		}
		c.in.wait()
		if !c.controlAlone() {
			return
		}
	}
}

// controlAlone handles the ping and pong frames at the head of what has
// been read from the socket, as long as each is there whole, and reports
// whether that was all: then the reader may wait again. It reads nothing
// from the socket (only what wait read ahead: a frame cut short waits for
// Read, as does a socket without read-ahead, TLS); anything else, a
// message, a close frame, a failed read, is left for Read.
func (c *Client) controlAlone() bool {
	for {
		n := c.readable()
		if n < 2 || !isPingPong(c.firstByte()) {
			return false
		}
		br := c.reader()
		hdr, err := br.Peek(2) // what is readable: no socket read
		if err != nil || hdr[1] > 125 || n < 2+int(hdr[1]) {
			return false // masked (Read refuses it), or not whole yet
		}
		h := frameHeader{fin: true, op: hdr[0] & 0x0f, length: uint64(hdr[1])}
		_, _ = br.Discard(2)
		if c.control(h) != nil { // reads only what is there
			return false
		}
		if c.readable() > 0 {
			continue
		}
		return c.in.err == nil
	}
}

// isPingPong reports whether b starts a final ping or pong frame.
func isPingPong(b byte) bool { return b == 0x80|opPing || b == 0x80|opPong }

// readable is how many bytes the reader holds: those read from the socket
// and not yet taken.
func (c *Client) readable() int {
	n := len(c.in.early)
	if c.in.have {
		n++
	}
	if c.br != nil {
		n += c.br.Buffered()
	}
	return n
}

// firstByte is the next byte the reader takes; readable is not 0.
func (c *Client) firstByte() byte {
	switch {
	case c.br != nil && c.br.Buffered() > 0:
		b, _ := c.br.Peek(1)
		return b[0]
	case len(c.in.early) > 0:
		return c.in.early[0]
	}
	return c.in.one[0]
}

// readerPool holds the read buffers of DefaultClientReadSize.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, DefaultClientReadSize) }}

// reader returns the read buffer, taking one again after Wait gave it
// back.
func (c *Client) reader() *bufio.Reader {
	if c.br == nil {
		if c.size == DefaultClientReadSize {
			c.br = readerPool.Get().(*bufio.Reader)
			c.br.Reset(&c.in)
		} else {
			c.br = bufio.NewReaderSize(&c.in, c.size)
		}
	}
	return c.br
}

// Write sends one message, masked (as client frames must be). ctx's
// deadline bounds it; without one, ClientOptions.WriteTimeout does. A failed
// write leaves the connection unusable.
func (c *Client) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := byte(opText)
	if typ == websocket.MessageBinary {
		op = opBinary
	}
	return c.writeFrame(ctx, op, p)
}

// writeFrame writes one frame under the write lock, unless a close frame
// has gone out.
func (c *Client) writeFrame(ctx context.Context, op byte, p []byte) error {
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	if c.closeSent {
		return net.ErrClosed
	}
	return c.writeFrameLocked(ctx, op, p)
}

// SendPing sends a ping frame with no payload, masked (as client frames
// must be), and returns once it is written, without waiting for the pong:
// the reader counts pongs as it reads them (Pongs), so a reader must be
// running for one to be seen. ctx bounds the write as Write's does.
func (c *Client) SendPing(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.writeFrame(ctx, opPing, nil)
}

// Pongs returns how many pong frames the reader has read, solicited
// (SendPing) or not; it wraps around. A heartbeat compares it with the
// count at its last look: a change means the peer answered.
func (c *Client) Pongs() uint32 { return c.pongs.Load() }

// lockWrite waits for the right to write a frame, or for ctx's end: a
// writer behind one stuck on a peer that stopped reading keeps to its own
// deadline.
func (c *Client) lockWrite(ctx context.Context) error {
	select {
	case c.wsem <- struct{}{}:
		return nil
	default:
	}
	select {
	case c.wsem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlockWrite() { <-c.wsem }

// writeFrameLocked writes one final, masked frame in one write(2), from
// a pooled buffer. The write lock is held. ctx's end cuts a write that
// waits for the socket (the connection is then unusable, as after any
// failed write).
func (c *Client) writeFrameLocked(ctx context.Context, op byte, p []byte) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(c.writeTimeout)
	}
	if err := c.in.SetWriteDeadline(dl); err != nil {
		return err
	}
	bp := gatherPool.Get()
	buf := appendMaskedFrame(*bp, op, p)
	// One write(2) that cannot wait first (see rawWrite); the rest, if
	// the socket took only part, through the Conn, which may wait. A
	// large frame goes through the Conn whole: a raw write holds the
	// goroutine's P for as long as the kernel copies.
	var n int
	var err error
	if c.in.raw != nil && len(buf) <= gatherLimit {
		n, err = writeOnce(c.in.raw, buf)
	}
	if err == nil && n < len(buf) {
		// The socket did not take it all: the rest may wait. Only now,
		// off the common path, is ctx's cancel watched (it costs an
		// allocation).
		stop := func() bool { return true }
		var cut chan struct{} // closed once the cancel's deadline is set
		if ctx.Done() != nil {
			cut = make(chan struct{})
			stop = context.AfterFunc(ctx, func() {
				_ = c.in.SetWriteDeadline(time.Unix(1, 0))
				close(cut)
			})
		}
		_, err = c.in.Conn.Write(buf[n:])
		if !stop() {
			// The cancel came: wait for its deadline to be set, so that it
			// cannot land on the next writer's frame.
			<-cut
			if err != nil {
				err = fmt.Errorf("%w: %w", ctx.Err(), err)
			}
		}
	}
	*bp = buf
	gatherPool.Put(bp)
	if err != nil {
		_ = c.in.Conn.Close()
	}
	return err
}

// appendMaskedFrame appends a final frame with a fresh masking key.
func appendMaskedFrame(buf []byte, op byte, p []byte) []byte {
	start := len(buf)
	buf = AppendFrameHeader(buf, op, len(p))
	buf[start+1] |= 0x80 // the mask bit
	var key [4]byte
	_, _ = rand.Read(key[:])
	buf = append(buf, key[:]...)
	n := len(buf)
	buf = append(buf, p...)
	for i := range p {
		buf[n+i] ^= key[i&3]
	}
	return buf
}

// Close sends a close frame with code and reason and leaves the reader
// closeGrace to see the peer's answer, after which its read fails; the
// reader then calls CloseNow. It fails with net.ErrClosed when a close
// frame was already sent. When the close frame cannot go out (a write
// held the connection for closeGrace: the peer is not reading), it cuts
// the connection instead, so that the reader ends all the same.
func (c *Client) Close(code websocket.StatusCode, reason string) error {
	if err := c.sendClose(code, reason); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			_ = c.CloseNow()
		}
		return err
	}
	return c.in.SetReadDeadline(time.Now().Add(closeGrace))
}

// sendClose writes a close frame unless one went out.
func (c *Client) sendClose(code websocket.StatusCode, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	if c.closeSent {
		return net.ErrClosed
	}
	c.closeSent = true
	var p []byte
	if code != websocket.StatusNoStatusRcvd {
		p = append([]byte{byte(code >> 8), byte(code)}, reason[:min(len(reason), 123)]...)
	}
	return c.writeFrameLocked(ctx, opClose, p)
}

// CloseNow cuts the connection without a close handshake.
func (c *Client) CloseNow() error { return c.in.Conn.Close() }
