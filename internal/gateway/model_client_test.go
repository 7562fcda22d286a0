package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// epoch is one subscription of a client to a channel, from its subscribe
// to its end (unsubscribe answered, subscription_lost, refused subscribe).
type epoch struct {
	acked    bool
	pos      uint64 // the ack's position
	hasPos   bool
	since    uint64 // the subscribe's since: the first seq is since+1
	hasSince bool
	seqs     []uint64
	// loose: the ack is handed to the goroutine that waits for it
	// (sioclient.Socket.EmitWithAck), not on the reader in order with the
	// messages, so messages that come before it is seen wait in early
	// and are checked against it then.
	loose bool
	early []uint64
}

func (ep *epoch) last() (uint64, bool) {
	if len(ep.seqs) == 0 {
		return 0, false
	}
	return ep.seqs[len(ep.seqs)-1], true
}

// mreq is a request in flight.
type mreq struct {
	typ, channel string
	reply        chan legacy.Frame // cap 1
}

// mclient is a client of the edge that checks what it receives: a legacy
// client (raw frames over WebSocket) or a Socket.IO one (sioclient, over
// WebSocket or long-polling), whose answers are turned into legacy frames
// for the checks both share.
type mclient struct {
	user    string
	session string
	kind    string // "legacy" or "socket.io/<transport>"
	ws      *websocket.Conn
	sc      *sioclient.Client
	so      *sioclient.Socket
	done    chan struct{}
	// head returns a channel's newest seq (the broker's, as the test's
	// oracle).
	head func(ch string) uint64

	mu         sync.Mutex
	nextID     uint64
	pending    map[uint64]*mreq
	answered   map[uint64]int
	subs       map[string]*epoch // open subscriptions
	ended      map[string]uint64 // the last seq of a channel's ended epoch
	problems   []string
	lost       []string
	err        error // why the connection ended, unless closed by the test
	closing    bool
	pauseUntil time.Time
}

func newModelClient(user, kind string) *mclient {
	return &mclient{user: user, kind: kind, done: make(chan struct{}),
		pending: make(map[uint64]*mreq), answered: make(map[uint64]int),
		subs: make(map[string]*epoch), ended: make(map[string]uint64)}
}

func (c *mclient) isSIO() bool { return c.sc != nil }

func dialModelClient(ctx context.Context, addr, user string) (*mclient, error) {
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws?user="+user, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	_, b, err := ws.Read(ctx)
	if err != nil {
		_ = ws.CloseNow()
		return nil, err
	}
	f, err := legacy.Decode(b)
	if err != nil || f.Type != legacy.TypeWelcome {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("first frame %q: %v", b, err)
	}
	c := newModelClient(user, "legacy")
	c.session, c.ws = f.Session, ws
	go c.readLoop()
	return c, nil
}

// dialModelSIO connects a Socket.IO client on the main namespace; its
// events and its answers are checked on the client's reader.
func dialModelSIO(ctx context.Context, addr, user string, tr sioclient.Transport, hc *http.Client) (*mclient, error) {
	c := newModelClient(user, "socket.io/"+tr.String())
	sc, err := sioclient.Dial(ctx, "http://"+addr+"/socket.io/?user="+user, sioclient.Options{
		Transport:  tr,
		HTTPClient: hc,
		OnEvent:    c.onEvent,
		OnSocketClose: func(_ *sioclient.Socket, err error) {
			c.ended0(err)
		},
		OnClose: func(_ *sioclient.Client, err error) {
			c.ended0(err)
			close(c.done)
		},
	})
	if err != nil {
		return nil, err
	}
	c.sc = sc
	c.kind += " eio " + sc.SID()
	if c.so, err = sc.Connect(ctx, "/", nil); err != nil {
		_ = sc.Close()
		return nil, err
	}
	c.session = c.so.ID()
	return c, nil
}

// ended0 records why the connection ended, unless the test closed it.
func (c *mclient) ended0(err error) {
	c.mu.Lock()
	if !c.closing && c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *mclient) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s (%s): ", c.user, c.kind)+fmt.Sprintf(format, args...))
}

// pause stops reading for d: the edge's writes back up into the socket
// buffers and its queue.
func (c *mclient) pause(d time.Duration) {
	c.mu.Lock()
	c.pauseUntil = time.Now().Add(d)
	c.mu.Unlock()
}

func (c *mclient) waitPause() {
	for {
		c.mu.Lock()
		d := time.Until(c.pauseUntil)
		c.mu.Unlock()
		if d <= 0 {
			return
		}
		time.Sleep(min(d, 10*time.Millisecond))
	}
}

func (c *mclient) readLoop() {
	defer close(c.done)
	for {
		c.waitPause()
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.ended0(err)
			return
		}
		f, err := legacy.Decode(b)
		c.mu.Lock()
		if err != nil {
			c.problem("undecodable frame %q: %v", b, err)
		} else {
			c.handle(f)
		}
		c.mu.Unlock()
	}
}

// onEvent checks one Socket.IO event, on the client's reader: blocking
// here is the Socket.IO client's slow reading (no read, no poll).
func (c *mclient) onEvent(_ *sioclient.Socket, ev sioclient.Event) {
	c.waitPause()
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Name != "message" || ev.Message == nil {
		c.problem("unexpected event %q %q", ev.Name, ev.Args)
		return
	}
	c.message(ev.Message.Channel, ev.Message.Seq)
}

// handle checks one frame from the edge; c.mu is held.
func (c *mclient) handle(f legacy.Frame) {
	switch f.Type {
	case legacy.TypeMessage:
		c.message(f.Channel, f.Seq)
	case legacy.TypeAck, legacy.TypeError:
		if f.ID == 0 {
			if f.Type == legacy.TypeError && f.Code == legacy.CodeSubscriptionLost {
				if c.subs[f.Channel] == nil {
					c.problem("subscription_lost for %q, not subscribed", f.Channel)
				}
				c.endEpoch(f.Channel)
				c.lost = append(c.lost, f.Channel+": "+f.Message)
				return
			}
			c.problem("unsolicited %s %+v", f.Type, f)
			return
		}
		c.answer(f)
	default:
		c.problem("unexpected frame %+v", f)
	}
}

// message checks one message; c.mu is held.
func (c *mclient) message(ch string, seq uint64) {
	ep := c.subs[ch]
	switch {
	case ep == nil:
		c.problem("channel %q: seq %d while not subscribed", ch, seq)
	case !ep.acked && ep.loose:
		ep.early = append(ep.early, seq)
	case !ep.acked:
		c.problem("channel %q: seq %d before the subscribe's ack", ch, seq)
	default:
		c.checkSeq(ch, ep, seq)
	}
}

// checkSeq checks seq against ep's stream so far and adds it.
func (c *mclient) checkSeq(ch string, ep *epoch, seq uint64) {
	last, ok := ep.last()
	switch {
	case ok && seq != last+1:
		c.problem("channel %q: seq %d after %d", ch, seq, last)
	case !ok && ep.hasSince && seq != ep.since+1:
		c.problem("channel %q: first seq %d after a subscribe since %d (ack at %d)", ch, seq, ep.since, ep.pos)
	case !ok && ep.hasPos && seq > ep.pos+1:
		c.problem("channel %q: first seq %d after an ack at %d", ch, seq, ep.pos)
	}
	ep.seqs = append(ep.seqs, seq)
}

// endEpoch closes ch's subscription, remembering where it stood.
func (c *mclient) endEpoch(ch string) {
	if ep := c.subs[ch]; ep != nil {
		if last, ok := ep.last(); ok {
			c.ended[ch] = last
		}
	}
	delete(c.subs, ch)
}

// answer takes the answer f to request f.ID; c.mu is held.
func (c *mclient) answer(f legacy.Frame) {
	c.answered[f.ID]++
	r := c.pending[f.ID]
	if r == nil {
		c.problem("answer %s to id %d, which waits for none (answered %d times)", f.Type, f.ID, c.answered[f.ID])
		return
	}
	delete(c.pending, f.ID)
	switch r.typ {
	case legacy.TypeSubscribe:
		ep := c.subs[r.channel]
		switch {
		case ep == nil:
			c.problem("%s to the subscribe of %q, no longer open", f.Type, r.channel)
		case f.Type == legacy.TypeAck:
			ep.acked, ep.pos, ep.hasPos = true, f.Seq, f.HasSeq
			if ep.hasSince && ep.hasPos && ep.pos < ep.since {
				c.problem("channel %q: subscribe since %d acked at %d", r.channel, ep.since, ep.pos)
			}
			early := ep.early
			ep.early = nil
			for _, seq := range early {
				c.checkSeq(r.channel, ep, seq)
			}
		default:
			if len(ep.early) > 0 {
				c.problem("channel %q: seqs %v of a refused subscribe (%s)", r.channel, ep.early, f.Message)
			}
			delete(c.subs, r.channel)
		}
	case legacy.TypeUnsubscribe:
		c.endEpoch(r.channel)
	}
	r.reply <- f
}

// sioAnswer takes the Socket.IO answer (or the error that ended the wait
// for it) to request id as a legacy frame would be; c.mu is held.
func (c *mclient) sioAnswer(id uint64, p sioclient.Payload, err error) {
	if err != nil {
		r := c.pending[id]
		delete(c.pending, id)
		if !errors.Is(err, context.DeadlineExceeded) {
			return // the connection's end: judged with the end
		}
		if r != nil {
			c.problem("request %d (%s %q) not answered: %v", id, r.typ, r.channel, err)
		}
		return
	}
	f := legacy.Frame{Type: legacy.TypeAck, ID: id}
	if len(p.Args) == 0 {
		c.problem("request %d: empty ack", id)
		f.Type = legacy.TypeError
	} else if a, err := sioclient.ReadPubSubAck(p.Args[0]); err != nil {
		c.problem("request %d: ack %s: %v", id, p.Args[0], err)
		f.Type = legacy.TypeError
	} else if a.Error != nil {
		f.Type, f.Message = legacy.TypeError, string(a.Error)
	} else if !a.OK {
		c.problem("request %d: ack %s neither ok nor error", id, p.Args[0])
		f.Type = legacy.TypeError
	} else {
		f.Seq, f.HasSeq = a.Seq, a.HasSeq
	}
	c.answer(f)
}

// send sends a request; for a subscribe it opens the channel's epoch. A
// Socket.IO client's answer comes on its reader (EmitWithAckFunc),
// unless wait is set (EmitWithAck, on this goroutine: send returns
// after the answer).
func (c *mclient) send(ctx context.Context, f legacy.Frame, wait bool) (*mreq, error) {
	r := &mreq{typ: f.Type, channel: f.Channel, reply: make(chan legacy.Frame, 1)}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.pending[id] = r
	if f.Type == legacy.TypeSubscribe {
		c.subs[f.Channel] = &epoch{since: f.Since, hasSince: f.HasSince, loose: wait && c.isSIO()}
	}
	c.mu.Unlock()
	if !c.isSIO() {
		f.ID = id
		return r, c.ws.Write(ctx, websocket.MessageText, legacy.Append(nil, f))
	}
	body := fmt.Appendf(nil, `{"channel":%q`, f.Channel)
	if f.HasSince {
		body = strconv.AppendUint(append(body, `,"since":`...), f.Since, 10)
	}
	if f.Data != nil {
		body = append(append(body, `,"data":`...), f.Data...)
	}
	body = append(body, '}')
	if wait {
		p, err := c.so.EmitWithAck(ctx, f.Type, body)
		c.mu.Lock()
		c.sioAnswer(id, p, err)
		c.mu.Unlock()
		return r, nil
	}
	return r, c.so.EmitWithAckFunc(ctx, f.Type, func(p sioclient.Payload, err error) {
		c.mu.Lock()
		c.sioAnswer(id, p, err)
		c.mu.Unlock()
	}, body)
}

// call sends f and waits for its answer.
func (c *mclient) call(ctx context.Context, f legacy.Frame, wait bool) (legacy.Frame, error) {
	r, err := c.send(ctx, f, wait)
	if err != nil {
		return legacy.Frame{}, err
	}
	select {
	case a := <-r.reply:
		return a, nil
	case <-c.done:
		return legacy.Frame{}, errors.New("connection ended")
	case <-ctx.Done():
		return legacy.Frame{}, ctx.Err()
	}
}

// received counts the seqs of the open subscriptions; c.mu is held.
func (c *mclient) received() int {
	n := 0
	for _, ep := range c.subs {
		n += len(ep.seqs)
	}
	return n
}

func (c *mclient) subscribed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for ch := range c.subs {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// maxResume bounds how far behind a resuming subscribe's since may be: a
// quarter of the edge's default queue.
const maxResume = 256

// run performs n random operations. A Socket.IO client that ends on its
// own stops: its end is judged at the end of the run.
func (c *mclient) run(ctx context.Context, r *rand.Rand, n int) error {
	err := c.run0(ctx, r, n)
	if err != nil && c.isSIO() && isDone(c.done) {
		return nil
	}
	return err
}

func (c *mclient) run0(ctx context.Context, r *rand.Rand, n int) error {
	for range n {
		if ctx.Err() != nil || isDone(c.done) {
			return nil
		}
		ch := modelChannels[r.IntN(len(modelChannels))]
		c.mu.Lock()
		_, open := c.subs[ch]
		last, had := c.ended[ch]
		c.mu.Unlock()
		wait := r.IntN(3) == 0 // Socket.IO: EmitWithAck rather than EmitWithAckFunc
		switch k := r.IntN(10); {
		case k < 3 && !open:
			f := legacy.Frame{Type: legacy.TypeSubscribe, Channel: ch}
			// Resume where the last subscription ended, or a little
			// before, when that is at most maxResume behind: the
			// gateway does not pace a longer replay to the client as
			// the reference services do, and may close it as a slow
			// consumer.
			if had && r.IntN(2) == 0 && c.head(ch)-last <= maxResume {
				f.Since, f.HasSince = last-min(last, uint64(r.IntN(4))), true
			}
			if _, err := c.call(ctx, f, wait); err != nil {
				return fmt.Errorf("subscribe %q: %w", ch, err)
			}
		case k < 3: // open: flap, an unsubscribe right behind a subscribe
			if _, err := c.call(ctx, legacy.Frame{Type: legacy.TypeUnsubscribe, Channel: ch}, false); err != nil {
				return fmt.Errorf("unsubscribe %q: %w", ch, err)
			}
			if _, err := c.send(ctx, legacy.Frame{Type: legacy.TypeSubscribe, Channel: ch}, false); err != nil {
				return fmt.Errorf("subscribe %q: %w", ch, err)
			}
			if _, err := c.call(ctx, legacy.Frame{Type: legacy.TypeUnsubscribe, Channel: ch}, wait); err != nil {
				return fmt.Errorf("unsubscribe %q: %w", ch, err)
			}
		case k < 5 && open:
			if _, err := c.call(ctx, legacy.Frame{Type: legacy.TypeUnsubscribe, Channel: ch}, wait); err != nil {
				return fmt.Errorf("unsubscribe %q: %w", ch, err)
			}
		case k < 8:
			for range 1 + r.IntN(16) { // answered whenever: checked at the end
				if _, err := c.send(ctx, legacy.Frame{Type: legacy.TypePublish, Channel: ch, Data: []byte(`{"from":"client"}`)}, wait && r.IntN(4) == 0); err != nil {
					return fmt.Errorf("publish %q: %w", ch, err)
				}
			}
		case k < 9:
			// A client on long-polling has no socket buffers to fill:
			// everything waits in its queue, whose overflow closes it
			// (edge.overflow), so it pauses for less.
			d := time.Duration(20+r.IntN(150)) * time.Millisecond
			if c.isSIO() && c.sc.Transport() == "polling" {
				d /= 3
			}
			c.pause(d)
		}
		time.Sleep(time.Duration(r.IntN(25)) * time.Millisecond)
	}
	return nil
}

func (c *mclient) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *mclient) close() {
	c.mu.Lock()
	c.closing = true
	c.pauseUntil = time.Time{}
	c.mu.Unlock()
	if c.isSIO() {
		_ = c.sc.Close()
	} else {
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	}
	<-c.done
}
