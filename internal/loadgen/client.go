package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/loadgen/drive"
	"github.com/baton-rt/baton/internal/loadgen/samples"
)

// headBytes is how much of each received frame a client looks at: enough for
// the frame type and the send timestamp at the start of the payload. The rest
// of a longer frame is discarded unread.
const headBytes = 384

// ioTimeout bounds every handshake step and control write.
const ioTimeout = 10 * time.Second

// sink gathers what all clients of a run observe. Counters are shared
// atomics: one increment per delivery is cheap next to a socket read.
type sink struct {
	delivered atomic.Int64
	pings     atomic.Int64
	errors    atomic.Int64 // error frames and refused requests
	dropped   atomic.Int64 // connections that ended while the run still needed them
	closing   atomic.Bool  // set before the run closes its own connections
	lat       atomic.Pointer[samples.Recorder]
}

// client is one raw WebSocket session. Its read loop owns the socket's read
// side; writes (subscribe, pong) are safe from any goroutine.
type client struct {
	conn  *websocket.Conn
	codec codec
	sink  *sink
	acks  chan reply // replies from the read loop; buffered, extras dropped
	done  chan struct{}
}

// dialer opens clients against one service.
type dialer struct {
	url     string
	codec   codec
	sink    *sink
	clients []*http.Client // one per loopback source address
}

func newDialer(addr string, c codec, s *sink, sources int) *dialer {
	d := &dialer{url: "ws://" + addr + c.path(), codec: c, sink: s}
	for i := 0; i < sources; i++ {
		nd := &net.Dialer{Timeout: ioTimeout}
		if sources > 1 {
			// 127.0.0.1..N: each source address has its own ephemeral port range.
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		d.clients = append(d.clients, &http.Client{Transport: &http.Transport{
			DialContext:       nd.DialContext,
			DisableKeepAlives: true,
			Proxy:             nil,
		}})
	}
	return d
}

// dial connects client number i and completes the protocol's connect
// sequence; the returned client is reading.
func (d *dialer) dial(ctx context.Context, i int) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{HTTPClient: d.clients[i%len(d.clients)]})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if _, ok := d.codec.(sioCodec); ok {
		if err := drive.SocketIOConnect(ctx, conn, ErrHandshake); err != nil {
			conn.CloseNow()
			return nil, err
		}
	}
	c := &client{conn: conn, codec: d.codec, sink: d.sink, acks: make(chan reply, 1), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// readLoop reads frames until the connection ends; closing the connection
// ends it (see drive.ReadHead).
func (c *client) readLoop() {
	defer close(c.done)
	var buf [headBytes]byte
	for {
		f, err := drive.ReadHead(c.conn, buf[:])
		if err == nil {
			err = c.handle(f)
		}
		if err != nil {
			if !c.sink.closing.Load() {
				c.sink.dropped.Add(1)
			}
			c.conn.CloseNow()
			return
		}
	}
}

var errServerClosed = errors.New("loadgen: server closed the session")

// reply is an answer to one of our requests, matched by id.
type reply struct {
	id    int
	ok    bool
	frame string // kept for the error message when !ok
}

func (c *client) handle(f []byte) error {
	kind, id := c.codec.classify(f)
	switch kind {
	case frameMessage:
		// The sample before the count: a phase that has seen every
		// delivery counted reads the samples next.
		if rec := c.sink.lat.Load(); rec != nil {
			if ts, ok := drive.IntAfter(f, tsKey); ok {
				rec.Add(time.Now().UnixMicro() - ts)
			}
		}
		c.sink.delivered.Add(1)
	case framePing:
		c.sink.pings.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		return c.conn.Write(ctx, websocket.MessageText, c.codec.pong(f))
	case frameAck, frameError:
		if kind == frameError {
			c.sink.errors.Add(1)
		}
		select {
		case c.acks <- reply{id: id, ok: kind == frameAck, frame: string(f)}:
		default:
		}
	case frameClose:
		return errServerClosed
	}
	return nil
}

// subscribe sends a subscribe request and waits for its ack.
func (c *client) subscribe(ctx context.Context, channel string) error {
	const id = 1
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, c.codec.subscribe(channel, id)); err != nil {
		return fmt.Errorf("send subscribe: %w", err)
	}
	for {
		select {
		case got := <-c.acks:
			if got.id != id {
				continue
			}
			if !got.ok {
				return fmt.Errorf("%w: subscribe answered %.100q", ErrRefused, got.frame)
			}
			return nil
		case <-c.done:
			return fmt.Errorf("subscribe: %w", net.ErrClosed)
		case <-ctx.Done():
			return fmt.Errorf("wait for subscribe ack: %w", ctx.Err())
		}
	}
}

// closeAll closes clients abruptly (no close handshake: the server sees the
// socket end, as with a client that goes away) and waits for their read
// loops, up to ioTimeout. Their ends are not counted as dropped.
func closeAll(s *sink, clients []*client) {
	s.closing.Store(true)
	defer s.closing.Store(false)
	for _, c := range clients {
		c.conn.CloseNow()
	}
	deadline := time.After(ioTimeout)
	for _, c := range clients {
		select {
		case <-c.done:
		case <-deadline:
			return
		}
	}
}

// connectAll opens n clients with at most conc dials in flight, retrying
// each failed dial once. It returns the clients opened so far with an error
// when any client could not connect.
func connectAll(ctx context.Context, d *dialer, n, conc int) ([]*client, error) {
	return drive.DialAll(ctx, n, conc, func(i int) (*client, error) { return d.dial(ctx, i) })
}

// subscribeAll subscribes every client to channel, conc at a time.
func subscribeAll(ctx context.Context, clients []*client, channel string, conc int) error {
	return drive.Each(ctx, len(clients), conc, func(i int) error {
		return clients[i].subscribe(ctx, channel)
	})
}
