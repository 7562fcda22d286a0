// Package legacyclient is a Go client for Baton's legacy pub/sub protocol
// (docs/protocols/legacy.md). Tests, load generators and the gateway's
// upstream driver use it, so every method is safe for concurrent use:
// requests carry ids and are matched to their ack, pong or error by id, and
// every call that waits takes a context.
package legacyclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wire/legacy"
)

// Options configure Dial. The zero value is usable.
type Options struct {
	// HTTPClient and HTTPHeader are used for the WebSocket handshake (for
	// example to carry an Authorization header).
	HTTPClient *http.Client
	HTTPHeader http.Header
	// MaxMessageBytes bounds one incoming frame; a larger one ends the
	// connection. Zero means 1 MiB.
	MaxMessageBytes int64
	// MessageBuffer bounds Messages(). Zero means 1024. See Messages for
	// the overflow rule.
	MessageBuffer int
	// EventBuffer bounds Events(). Zero means 64. See Events for the
	// overflow rule.
	EventBuffer int
}

// Message is one message frame.
type Message struct {
	Channel string
	Seq     uint64
	Data    []byte // raw JSON, exactly as the server sent it
}

// ServerError is an error frame that answered a request. It is returned by
// the request's method; test it with errors.As.
type ServerError struct {
	Code    string // one of the legacy.Code* constants
	Message string
	Channel string
}

func (e *ServerError) Error() string {
	if e.Channel != "" {
		return fmt.Sprintf("legacyclient: server error %s on channel %q: %s", e.Code, e.Channel, e.Message)
	}
	return fmt.Sprintf("legacyclient: server error %s: %s", e.Code, e.Message)
}

var (
	// ErrClosed is returned by calls on a client whose connection has
	// ended; Err tells why.
	ErrClosed = errors.New("legacyclient: connection closed")
	// ErrOverflow ends the connection when Messages() was not drained in
	// time.
	ErrOverflow = errors.New("legacyclient: message buffer overflow")
	// ErrProtocol ends the connection when the server sent something the
	// protocol does not allow (a frame that does not decode, a binary
	// frame, no welcome).
	ErrProtocol = errors.New("legacyclient: protocol violation")
	// ErrInvalidData is returned by Publish for data that is not one JSON
	// value; nothing is sent.
	ErrInvalidData = errors.New("legacyclient: data is not valid JSON")
)

// Client is one connection to a legacy server.
type Client struct {
	ws      *websocket.Conn
	session string
	msgs    chan Message
	events  chan legacy.Frame
	done    chan struct{} // closed when the read loop has ended

	nextID        atomic.Uint64
	droppedEvents atomic.Uint64
	closing       atomic.Bool // Close was called: the end is not an error

	mu      sync.Mutex
	pending map[uint64]chan legacy.Frame // request id -> its answer (cap 1)
	err     error                        // why the connection ended
}

// Dial connects to url (ws:// or wss://, path included) and waits for the
// server's welcome.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = 1 << 20
	}
	if opts.MessageBuffer <= 0 {
		opts.MessageBuffer = 1024
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 64
	}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: opts.HTTPClient,
		HTTPHeader: opts.HTTPHeader,
	})
	if err != nil {
		return nil, fmt.Errorf("legacyclient: dial %s: %w", url, err)
	}
	ws.SetReadLimit(opts.MaxMessageBytes)

	f, err := readFrame(ctx, ws)
	if err == nil && f.Type != legacy.TypeWelcome {
		err = fmt.Errorf("%w: first frame is %q, want welcome", ErrProtocol, f.Type)
	}
	if err != nil {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("legacyclient: handshake with %s: %w", url, err)
	}
	c := &Client{
		ws:      ws,
		session: f.Session,
		msgs:    make(chan Message, opts.MessageBuffer),
		events:  make(chan legacy.Frame, opts.EventBuffer),
		done:    make(chan struct{}),
		pending: make(map[uint64]chan legacy.Frame),
	}
	go c.readLoop()
	return c, nil
}

// Session is the session id the server gave in its welcome.
func (c *Client) Session() string { return c.session }

// Messages delivers message frames in arrival order. It is closed when the
// connection ends.
//
// Overflow rule: the buffer is bounded (Options.MessageBuffer). If it is
// full when a message arrives, the client closes the connection and Err
// returns ErrOverflow: messages are sequenced, so a consumer that fell
// behind must reconnect and resume with since rather than lose some.
// Messages for a channel may arrive before its Subscribe returns.
func (c *Client) Messages() <-chan Message { return c.msgs }

// Events delivers the frames that answer no request: error frames without a
// request id (for example subscription_lost, which carries the channel) and
// frames of a type this package does not know (opaque events, with Raw).
// It is closed when the connection ends.
//
// Overflow rule: events are not sequenced, so when the buffer is full the
// event is dropped and counted (DroppedEvents) instead of ending the
// connection.
func (c *Client) Events() <-chan legacy.Frame { return c.events }

// DroppedEvents counts events lost to a full Events buffer.
func (c *Client) DroppedEvents() uint64 { return c.droppedEvents.Load() }

// Done is closed when the connection has ended; Err then tells why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended: nil while it is open, or after Close;
// otherwise an error for which websocket.CloseStatus gives the server's
// close code when there was one (for example 1008 for a slow consumer, 1001
// for a shutdown), ErrOverflow, or ErrProtocol.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Since makes the since argument of Subscribe.
func Since(seq uint64) *uint64 { return &seq }

// Subscribe subscribes to channel and waits for the ack. With since set the
// server first replays the retained messages with seq > *since. It returns
// the channel's newest seq as reported by the ack: live messages follow it,
// and a replay covers everything up to it. Server refusals come back as
// *ServerError (for example code history_gone).
func (c *Client) Subscribe(ctx context.Context, channel string, since *uint64) (uint64, error) {
	f := legacy.Frame{Type: legacy.TypeSubscribe, Channel: channel}
	if since != nil {
		f.Since, f.HasSince = *since, true
	}
	ack, err := c.request(ctx, f)
	return ack.Seq, err
}

// Unsubscribe leaves channel and waits for the ack.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	_, err := c.request(ctx, legacy.Frame{Type: legacy.TypeUnsubscribe, Channel: channel})
	return err
}

// Publish publishes data (one JSON value, sent verbatim) and returns the
// seq the server assigned.
func (c *Client) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	if !json.Valid(data) {
		return 0, ErrInvalidData
	}
	ack, err := c.request(ctx, legacy.Frame{Type: legacy.TypePublish, Channel: channel, Data: data})
	return ack.Seq, err
}

// Ping sends a ping and waits for the pong.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.request(ctx, legacy.Frame{Type: legacy.TypePing})
	return err
}

// Close closes the connection normally (1000) and waits for the read loop.
// Closing a connection that has already ended is not an error.
func (c *Client) Close() error {
	c.closing.Store(true)
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	if errors.Is(err, net.ErrClosed) || isDone(c.done) && c.Err() != nil {
		err = nil // it had ended already; Err says why
	}
	return err
}

// request sends f with a fresh id and waits for the frame answering it.
// Canceling ctx while the frame is being written closes the connection
// (a half-written frame cannot be taken back); canceling it while waiting
// for the answer only abandons the wait. A ctx already done sends nothing:
// coder/websocket would close the connection for it now and then.
func (c *Client) request(ctx context.Context, f legacy.Frame) (legacy.Frame, error) {
	if err := ctx.Err(); err != nil {
		return legacy.Frame{}, err
	}
	f.ID = c.nextID.Add(1)
	reply := make(chan legacy.Frame, 1)
	c.mu.Lock()
	if c.err != nil || isDone(c.done) {
		err := c.err
		c.mu.Unlock()
		return legacy.Frame{}, closedErr(err)
	}
	c.pending[f.ID] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, f.ID)
		c.mu.Unlock()
	}()

	if err := c.ws.Write(ctx, websocket.MessageText, legacy.Append(nil, f)); err != nil {
		if ctx.Err() != nil {
			return legacy.Frame{}, ctx.Err()
		}
		return legacy.Frame{}, closedErr(err)
	}
	var r legacy.Frame
	select {
	case r = <-reply:
	case <-c.done:
		select {
		case r = <-reply: // answered before the end: select picked at random
		default:
			return legacy.Frame{}, closedErr(c.Err())
		}
	case <-ctx.Done():
		return legacy.Frame{}, ctx.Err()
	}
	if r.Type == legacy.TypeError {
		return r, &ServerError{Code: r.Code, Message: r.Message, Channel: r.Channel}
	}
	return r, nil
}

func closedErr(cause error) error {
	if cause == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
