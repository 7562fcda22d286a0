package scenario

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/baton-rt/baton/internal/legacyclient"
)

// clientSpec is one client to connect: its user key and channels.
type clientSpec struct {
	User      string   `json:"user"`
	Channels  []string `json:"channels"`
	Transport string   `json:"transport,omitempty"` // node clients only
}

// clientResult is how one client's run ended.
type clientResult struct {
	User        string
	OK          bool
	Received    int
	Errors      []string
	Disconnects []string
	Behind      map[string]string
}

// streamCheck checks one client's channels as messages arrive: on each
// channel the first message after the subscribe ack must carry ack+1 and
// every next one the seq after it.
type streamCheck struct {
	mu       sync.Mutex
	channels []string
	next     map[string]uint64   // channel -> next expected seq, once acked
	early    map[string][]uint64 // seqs that arrived before the ack
	received int
	errs     []string
}

func newStreamCheck(channels []string) *streamCheck {
	return &streamCheck{channels: channels, next: make(map[string]uint64), early: make(map[string][]uint64)}
}

func (s *streamCheck) fail(format string, args ...any) {
	if len(s.errs) < 5 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

// acked records the position a subscribe ack reported.
func (s *streamCheck) acked(ch string, pos uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next[ch] = pos + 1
	for _, seq := range s.early[ch] {
		s.checkLocked(ch, seq)
	}
	delete(s.early, ch)
}

func (s *streamCheck) message(ch string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received++
	if _, ok := s.next[ch]; !ok {
		if slices.Contains(s.channels, ch) {
			s.early[ch] = append(s.early[ch], seq)
		} else {
			s.fail("message on unsubscribed channel %s", ch)
		}
		return
	}
	s.checkLocked(ch, seq)
}

func (s *streamCheck) checkLocked(ch string, seq uint64) {
	want := s.next[ch]
	switch {
	case seq == want:
		s.next[ch] = want + 1
	case seq < want:
		s.fail("%s: duplicate or old seq %d, want %d", ch, seq, want)
	default:
		s.fail("%s: gap: seq %d, want %d", ch, seq, want)
		s.next[ch] = seq + 1
	}
}

// behind lists the channels that have not reached last yet.
func (s *streamCheck) behind(last map[string]uint64) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, ch := range s.channels {
		have := uint64(0)
		if n, ok := s.next[ch]; ok {
			have = n - 1
		}
		if have < last[ch] {
			out[ch] = fmt.Sprintf("%d/%d", have, last[ch])
		}
	}
	return out
}

// goClient is a legacy WebSocket client of the edge (internal/legacyclient).
type goClient struct {
	spec  clientSpec
	lc    *legacyclient.Client
	check *streamCheck
	done  chan struct{} // the message reader has ended
}

// dialGo connects spec as a legacy client and subscribes its channels.
func dialGo(ctx context.Context, edgeAddr string, spec clientSpec) (*goClient, error) {
	lc, err := legacyclient.Dial(ctx, "ws://"+edgeAddr+"/ws?user="+spec.User, legacyclient.Options{MessageBuffer: 1 << 14})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", spec.User, err)
	}
	c := &goClient{spec: spec, lc: lc, check: newStreamCheck(spec.Channels), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for m := range lc.Messages() {
			c.check.message(m.Channel, m.Seq)
		}
	}()
	for _, ch := range spec.Channels {
		pos, err := lc.Subscribe(ctx, ch, nil)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("%s subscribe %s: %w", spec.User, ch, err)
		}
		c.check.acked(ch, pos)
	}
	return c, nil
}

func (c *goClient) close() {
	_ = c.lc.Close()
	<-c.done
}

func (c *goClient) disconnected() bool { return isClosed(c.lc.Done()) }

func (c *goClient) result(last map[string]uint64) clientResult {
	r := clientResult{User: c.spec.User, Behind: c.check.behind(last)}
	c.check.mu.Lock()
	r.Received, r.Errors = c.check.received, slices.Clone(c.check.errs)
	c.check.mu.Unlock()
	if c.disconnected() {
		r.Disconnects = []string{fmt.Sprint(c.lc.Err())}
	}
	r.OK = len(r.Errors) == 0 && len(r.Disconnects) == 0 && len(r.Behind) == 0
	return r
}

// goFleet is many legacy clients.
type goFleet struct {
	clients []*goClient
}

// startGoFleet connects every spec, a bounded number at a time, and
// closes them when the test ends.
func startGoFleet(t *testing.T, ctx context.Context, edgeAddr string, specs []clientSpec) *goFleet {
	t.Helper()
	f := &goFleet{clients: make([]*goClient, len(specs))}
	t.Cleanup(f.close)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dialGo(ctx, edgeAddr, specs[i])
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				f.clients[i] = c
				mu.Unlock()
			}
		}()
	}
	for i := range specs {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
	return f
}

func (f *goFleet) members() []member {
	out := make([]member, len(f.clients))
	for i, c := range f.clients {
		out[i] = member{id: c.lc.Session(), user: c.spec.User, channels: sortedCopy(c.spec.Channels)}
	}
	return out
}

func (f *goFleet) caughtUp(last map[string]uint64) bool {
	for _, c := range f.clients {
		if len(c.check.behind(last)) > 0 && !c.disconnected() {
			return false
		}
	}
	return true
}

func (f *goFleet) results(last map[string]uint64) []clientResult {
	out := make([]clientResult, len(f.clients))
	for i, c := range f.clients {
		out[i] = c.result(last)
	}
	return out
}

func (f *goFleet) close() {
	for _, c := range f.clients {
		if c != nil {
			c.close()
		}
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
