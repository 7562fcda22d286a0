package gwbench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/loadgen/drive"
	"github.com/baton-rt/baton/internal/loadgen/samples"
)

// headBytes is how much of a frame a client reads: the type, seq and the
// send time all sit near the start; the rest is discarded unread.
const headBytes = 384

// ioTimeout bounds every handshake step and request.
const ioTimeout = 10 * time.Second

// Windows a delivery-pause sample is attributed to.
const (
	windowNone     = 0
	windowBaseline = 1 // steady publishing before a weight change
	windowMove     = 2 // from the weight change until its answer
)

// sink is what all clients of a phase report into.
type sink struct {
	delivered atomic.Int64
	errors    atomic.Int64 // error frames
	dropped   atomic.Int64 // connections that ended while still needed
	closing   atomic.Bool  // set before the driver closes its own clients
	track     atomic.Bool  // parse seq and send time of every message
	window    atomic.Int32 // windowNone, windowBaseline or windowMove
	lat       atomic.Pointer[samples.Recorder]
}

// reply is an answer to one request, with its receive time.
type reply struct {
	id  int64
	ok  bool
	seq int64
	at  time.Time
	raw string // kept for the error message when !ok
}

// track is one client's view of its channel's stream.
type track struct {
	last    int64 // last seq delivered; -1 until the subscribe ack
	lastLat int64 // latency of the previous message, µs
	haveLat bool
	got     int64
	dup     int64
	gap     int64 // seqs skipped between consecutive deliveries
	// jump is the largest rise of latency between two consecutive
	// deliveries, per window: the extra gap the client saw beyond the
	// publisher's own gap, i.e. its delivery pause.
	jump [2]int64
}

// client is one raw WebSocket session, legacy or Socket.IO. Its read loop owns the
// socket's read side; writes are safe from any goroutine.
type client struct {
	conn  *websocket.Conn
	sio   bool // speaks Socket.IO (Engine.IO v4 over WebSocket), not legacy
	sink  *sink
	acks  chan reply     // answers to requests; buffered, extras dropped
	msgs  chan time.Time // receive times of messages, for probes only
	done  chan struct{}
	ids   atomic.Int64
	subID atomic.Int64 // id of the subscribe in flight, so the ack sets track.last

	mu sync.Mutex
	tr track
}

// dialer opens clients to one target.
type dialer struct {
	url  string // up to the user key's value
	sio  bool
	http *http.Client
	sink *sink
}

// newDialer returns a dialer of legacy clients to addr.
func newDialer(addr string, s *sink) *dialer {
	nd := &net.Dialer{Timeout: ioTimeout}
	return &dialer{
		url:  "ws://" + addr + "/ws?user=u",
		sink: s,
		http: &http.Client{Transport: &http.Transport{DialContext: nd.DialContext, DisableKeepAlives: true, Proxy: nil}},
	}
}

// dialerFor returns a dialer of t's clients: Socket.IO ones when t says so.
func dialerFor(t Target, s *sink) *dialer {
	d := newDialer(t.Addr, s)
	if t.SocketIO {
		d.url, d.sio = "ws://"+t.Addr+drive.SocketIOPath+"&user=u", true
	}
	return d
}

// dial opens client i (user key u<i>) and waits for the welcome frame (a
// Socket.IO client: for its namespace's CONNECT answer).
func (d *dialer) dial(ctx context.Context, i int, probe bool) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, d.url+strconv.Itoa(i), &websocket.DialOptions{HTTPClient: d.http})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if d.sio {
		err = drive.SocketIOConnect(ctx, conn, ErrHandshake)
	} else {
		err = legacyWelcome(ctx, conn)
	}
	if err != nil {
		conn.CloseNow()
		return nil, err
	}
	c := &client{conn: conn, sio: d.sio, sink: d.sink, acks: make(chan reply, 4), done: make(chan struct{})}
	c.tr.last = -1
	if probe {
		c.msgs = make(chan time.Time, 4)
	}
	go c.readLoop()
	return c, nil
}

// legacyWelcome reads the welcome frame a legacy session starts with.
func legacyWelcome(ctx context.Context, conn *websocket.Conn) error {
	_, f, err := conn.Read(ctx)
	if err != nil {
		return fmt.Errorf("read welcome: %w", err)
	}
	if !bytes.Contains(f, []byte(`"type":"welcome"`)) {
		return fmt.Errorf("%w: first frame %.60q", ErrHandshake, f)
	}
	return nil
}

// readLoop reads frames until the connection ends; closing the connection
// ends it (see drive.ReadHead).
func (c *client) readLoop() {
	defer close(c.done)
	var buf [headBytes]byte
	for {
		f, err := drive.ReadHead(c.conn, buf[:])
		if err != nil {
			if !c.sink.closing.Load() {
				c.sink.dropped.Add(1)
			}
			c.conn.CloseNow()
			return
		}
		c.handle(f, time.Now())
	}
}

var (
	keyType = []byte(`"type":"`)
	keySeq  = []byte(`"seq":`)
	keyID   = []byte(`"id":`)
	keyTS   = []byte(`"ts":`)
)

func (c *client) handle(f []byte, now time.Time) {
	if c.sio {
		c.handleSIO(f, now)
		return
	}
	typ := frameType(f)
	var id int64
	if typ == "ack" || typ == "error" {
		id, _ = drive.IntAfter(f, keyID)
	}
	c.handleFields(typ, id, f, now)
}

// handleFields handles a frame of type typ ("message", "ack", "error",
// ...), an answer to request id, whose other fields (seq, ts) f holds as
// JSON keys.
func (c *client) handleFields(typ string, id int64, f []byte, now time.Time) {
	switch typ {
	case "message":
		// Tracked before counted: a phase that has seen every delivery
		// counted reads the tracking next.
		if c.sink.track.Load() {
			c.observe(f, now)
		}
		c.sink.delivered.Add(1)
		if c.msgs != nil {
			select {
			case c.msgs <- now:
			default:
			}
		}
	case "ack", "error":
		seq, _ := drive.IntAfter(f, keySeq)
		if typ == "error" {
			c.sink.errors.Add(1)
		} else if id != 0 && id == c.subID.Load() {
			c.mu.Lock()
			c.tr.last = seq // messages of this subscription follow their ack
			c.mu.Unlock()
		}
		select {
		case c.acks <- reply{id: id, ok: typ == "ack", seq: seq, at: now, raw: string(f)}:
		default:
		}
	}
}

// observe updates the seq and pause tracking with one message.
func (c *client) observe(f []byte, now time.Time) {
	seq, ok := drive.IntAfter(f, keySeq)
	if !ok {
		return
	}
	ts, hasTS := drive.IntAfter(f, keyTS)
	lat := now.UnixMicro() - ts
	if hasTS {
		if rec := c.sink.lat.Load(); rec != nil {
			rec.Add(lat)
		}
	}
	w := c.sink.window.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &c.tr
	t.got++
	switch {
	case t.last < 0:
	case seq <= t.last:
		t.dup++
		return
	case seq > t.last+1:
		t.gap += seq - t.last - 1
	}
	t.last = seq
	if !hasTS {
		return
	}
	if t.haveLat && w != windowNone {
		if j := lat - t.lastLat; j > t.jump[w-1] {
			t.jump[w-1] = j
		}
	}
	t.lastLat, t.haveLat = lat, true
}

// snapshot returns a copy of the tracking state.
func (c *client) snapshot() track {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tr
}

// reset clears the counts and pause maxima, keeping the last seq.
func (c *client) reset() {
	c.mu.Lock()
	c.tr = track{last: c.tr.last}
	c.mu.Unlock()
}

// request writes frame (built by build with a fresh id) and waits for the
// answer with that id.
func (c *client) request(ctx context.Context, build func(id int64) []byte) (reply, error) {
	id := c.ids.Add(1)
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, build(id)); err != nil {
		return reply{}, fmt.Errorf("send request: %w", err)
	}
	for {
		select {
		case got := <-c.acks:
			if got.id != id {
				continue
			}
			if !got.ok {
				return got, fmt.Errorf("%w: %.120q", ErrRefused, got.raw)
			}
			return got, nil
		case <-c.done:
			return reply{}, fmt.Errorf("request: %w", net.ErrClosed)
		case <-ctx.Done():
			return reply{}, fmt.Errorf("wait for answer: %w", ctx.Err())
		}
	}
}

// subscribe subscribes to channel; deliveries are tracked from the ack's seq.
func (c *client) subscribe(ctx context.Context, channel string) error {
	_, err := c.request(ctx, func(id int64) []byte {
		c.subID.Store(id)
		return c.requestFrame("subscribe", id, channel)
	})
	c.subID.Store(0)
	return err
}

// requestFrame is request typ (subscribe, unsubscribe) with id on channel,
// in the client's protocol.
func (c *client) requestFrame(typ string, id int64, channel string) []byte {
	b, end := c.requestHead(nil, typ, id, channel)
	return append(b, end...)
}

// requestHead appends request typ with id up to its channel, in the
// client's protocol, and returns it with the bytes that close it.
func (c *client) requestHead(b []byte, typ string, id int64, channel string) ([]byte, string) {
	if c.sio {
		return drive.AppendSocketIORequest(b, typ, id, channel), "}]"
	}
	return legacyRequestHead(b, typ, id, channel), "}"
}

// legacyRequestHead appends {"type":typ,"id":id,"channel":channel, the
// request without its closing brace.
func legacyRequestHead(b []byte, typ string, id int64, channel string) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"channel":`...)
	return strconv.AppendQuote(b, channel)
}

// frameType returns the value of the first "type" key, without decoding.
func frameType(f []byte) string {
	i := bytes.Index(f, keyType)
	if i < 0 {
		return ""
	}
	rest := f[i+len(keyType):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 16 {
		return ""
	}
	switch string(rest[:j]) { // no allocation for the known names
	case "message":
		return "message"
	case "ack":
		return "ack"
	case "error":
		return "error"
	case "welcome":
		return "welcome"
	}
	return "other"
}

// closeAll closes clients abruptly and waits for their read loops, up to
// ioTimeout.
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

// connectAll opens clients first..first+n-1 with conc dials in flight,
// retrying a failed dial once; on error it returns those opened so far.
func connectAll(ctx context.Context, d *dialer, first, n, conc int, probe bool) ([]*client, error) {
	return drive.DialAll(ctx, n, conc, func(i int) (*client, error) { return d.dial(ctx, first+i, probe) })
}

// subscribeAll subscribes client i to channel(i), conc at a time.
func subscribeAll(ctx context.Context, clients []*client, channel func(i int) string, conc int) error {
	return drive.Each(ctx, len(clients), conc, func(i int) error {
		return clients[i].subscribe(ctx, channel(i))
	})
}
