package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/wire/legacy"
)

// epoch is one subscription of a client to a channel, from its subscribe
// to its end (unsubscribe answered, subscription_lost, refused subscribe).
type epoch struct {
	acked  bool
	pos    uint64 // the ack's position
	hasPos bool
	seqs   []uint64
}

// mreq is a request in flight.
type mreq struct {
	typ, channel string
	reply        chan legacy.Frame // cap 1
}

// mclient is a legacy client of the edge that checks what it receives.
type mclient struct {
	user    string
	session string
	ws      *websocket.Conn
	done    chan struct{}

	mu         sync.Mutex
	nextID     uint64
	pending    map[uint64]*mreq
	answered   map[uint64]int
	subs       map[string]*epoch // open subscriptions
	problems   []string
	lost       []string
	err        error // why the read loop ended
	closing    bool
	pauseUntil time.Time
}

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
	c := &mclient{user: user, session: f.Session, ws: ws, done: make(chan struct{}),
		pending: make(map[uint64]*mreq), answered: make(map[uint64]int), subs: make(map[string]*epoch)}
	go c.readLoop()
	return c, nil
}

func (c *mclient) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: ", c.user)+fmt.Sprintf(format, args...))
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
			c.mu.Lock()
			if !c.closing {
				c.err = err
			}
			c.mu.Unlock()
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

// handle checks one frame from the edge; c.mu is held.
func (c *mclient) handle(f legacy.Frame) {
	switch f.Type {
	case legacy.TypeMessage:
		ep := c.subs[f.Channel]
		switch {
		case ep == nil:
			c.problem("channel %q: seq %d while not subscribed", f.Channel, f.Seq)
		case !ep.acked:
			c.problem("channel %q: seq %d before the subscribe's ack", f.Channel, f.Seq)
		case len(ep.seqs) > 0 && f.Seq != ep.seqs[len(ep.seqs)-1]+1:
			c.problem("channel %q: seq %d after %d", f.Channel, f.Seq, ep.seqs[len(ep.seqs)-1])
			ep.seqs = append(ep.seqs, f.Seq)
		case len(ep.seqs) == 0 && ep.hasPos && f.Seq > ep.pos+1:
			c.problem("channel %q: first seq %d after an ack at %d", f.Channel, f.Seq, ep.pos)
			ep.seqs = append(ep.seqs, f.Seq)
		default:
			ep.seqs = append(ep.seqs, f.Seq)
		}
	case legacy.TypeAck, legacy.TypeError:
		if f.ID == 0 {
			if f.Type == legacy.TypeError && f.Code == legacy.CodeSubscriptionLost {
				if c.subs[f.Channel] == nil {
					c.problem("subscription_lost for %q, not subscribed", f.Channel)
				}
				delete(c.subs, f.Channel)
				c.lost = append(c.lost, f.Channel+": "+f.Message)
				return
			}
			c.problem("unsolicited %s %+v", f.Type, f)
			return
		}
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
			if ep == nil {
				c.problem("%s to the subscribe of %q, no longer open", f.Type, r.channel)
			} else if f.Type == legacy.TypeAck {
				ep.acked, ep.pos, ep.hasPos = true, f.Seq, f.HasSeq
			} else {
				delete(c.subs, r.channel)
			}
		case legacy.TypeUnsubscribe:
			delete(c.subs, r.channel)
		}
		r.reply <- f
	default:
		c.problem("unexpected frame %+v", f)
	}
}

// send writes a request; for a subscribe it opens the channel's epoch.
func (c *mclient) send(ctx context.Context, f legacy.Frame) (*mreq, error) {
	r := &mreq{typ: f.Type, channel: f.Channel, reply: make(chan legacy.Frame, 1)}
	c.mu.Lock()
	c.nextID++
	f.ID = c.nextID
	c.pending[f.ID] = r
	if f.Type == legacy.TypeSubscribe {
		c.subs[f.Channel] = &epoch{}
	}
	c.mu.Unlock()
	return r, c.ws.Write(ctx, websocket.MessageText, legacy.Append(nil, f))
}

// call sends f and waits for its answer.
func (c *mclient) call(ctx context.Context, f legacy.Frame) (legacy.Frame, error) {
	r, err := c.send(ctx, f)
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

// run performs n random operations.
func (c *mclient) run(ctx context.Context, r *rand.Rand, n int) error {
	for range n {
		if ctx.Err() != nil || isDone(c.done) {
			return nil
		}
		ch := modelChannels[r.IntN(len(modelChannels))]
		c.mu.Lock()
		_, open := c.subs[ch]
		c.mu.Unlock()
		switch k := r.IntN(10); {
		case k < 3 && !open:
			if _, err := c.call(ctx, legacy.Frame{Type: legacy.TypeSubscribe, Channel: ch}); err != nil {
				return fmt.Errorf("subscribe %q: %w", ch, err)
			}
		case k < 5 && open:
			if _, err := c.call(ctx, legacy.Frame{Type: legacy.TypeUnsubscribe, Channel: ch}); err != nil {
				return fmt.Errorf("unsubscribe %q: %w", ch, err)
			}
		case k < 8:
			for range 1 + r.IntN(16) { // answered whenever: checked at the end
				if _, err := c.send(ctx, legacy.Frame{Type: legacy.TypePublish, Channel: ch, Data: []byte(`{"from":"client"}`)}); err != nil {
					return fmt.Errorf("publish %q: %w", ch, err)
				}
			}
		case k < 9:
			c.pause(time.Duration(20+r.IntN(150)) * time.Millisecond)
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
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}
