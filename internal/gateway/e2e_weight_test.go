package gateway_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestE2EPubSubThroughEdge: both client protocols subscribe and publish
// through the gateway and get each other's messages with the broker's seqs.
func TestE2EPubSubThroughEdge(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)
	lc := f.dialLegacy(t, ctx, "alice")
	sc := f.dialSIO(t, ctx, "bob")
	for _, c := range []*edgeClient{lc, sc} {
		if err := c.subscribe(ctx, "room"); err != nil {
			t.Fatal(err)
		}
	}
	s1, err := lc.publish(ctx, "room", []byte(`{"from":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := sc.publish(ctx, "room", []byte(`{"from":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s2 != s1+1 {
		t.Errorf("seqs %d then %d", s1, s2)
	}
	for _, c := range []*edgeClient{lc, sc} {
		if !testenv.Poll(20*time.Second, func() bool { return len(c.rec.get("room")) == 2 }) {
			t.Fatalf("%s got %v", c.user, c.rec.get("room"))
		}
		if got := c.rec.get("room"); got[0] != s1 || got[1] != s2 {
			t.Errorf("%s got %v, want [%d %d]", c.user, got, s1, s2)
		}
	}
}

// TestE2EWeightChangesUnderLoad moves every session blue→green→blue and
// around through the admin API while a publisher runs: every client gets
// every seq of its channels exactly once, in order, without a disconnect,
// and the status counts follow the buckets.
func TestE2EWeightChangesUnderLoad(t *testing.T) {
	e := setup(t, 0)
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 60*time.Second)

	const nClients, nChannels = 24, 5
	channels := make([]string, nChannels)
	for i := range channels {
		channels[i] = "ch" + strconv.Itoa(i)
	}
	clients := make([]*edgeClient, nClients)
	for i := range clients {
		user := fmt.Sprintf("user-%d", i)
		if i%2 == 0 {
			clients[i] = f.dialLegacy(t, ctx, user)
		} else {
			clients[i] = f.dialSIO(t, ctx, user)
		}
		c := clients[i]
		c.channels = []string{channels[i%nChannels], channels[(i+2)%nChannels]}
		for _, ch := range c.channels {
			if err := c.subscribe(ctx, ch); err != nil {
				t.Fatalf("%s subscribe %s: %v", user, ch, err)
			}
		}
	}

	// The publisher goes straight to the shared broker, as another
	// service would; seqs start at 1 on every channel, after every
	// subscribe above.
	stop := make(chan struct{})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last = map[string]uint64{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; k < 100000; k++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			ch := channels[k%nChannels]
			m, err := e.b.Publish(ctx, ch, []byte(`{"k":`+strconv.Itoa(k)+`}`))
			if err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			mu.Lock()
			last[ch] = m.Seq
			mu.Unlock()
		}
	}()

	var movedTotal int
	for _, w := range []float64{100, 0, 50, 100, 0} {
		var res admin.WeightResult
		f.adminJSON(t, "PUT", "/api/v1/weight", fmt.Sprintf(`{"weight":%v}`, w), 200, &res)
		if res.Weight != w || res.Failed != 0 {
			t.Errorf("weight %v: %+v", w, res)
		}
		movedTotal += res.Moved
		checkStatusCounts(t, f, e, clients, w)
		time.Sleep(50 * time.Millisecond) // let messages flow on the new backend
	}
	close(stop)
	wg.Wait()
	if movedTotal == 0 {
		t.Error("no session moved")
	}

	for _, c := range clients {
		if isDone(c.done()) {
			t.Errorf("%s was disconnected", c.user)
		}
		for _, ch := range c.channels {
			mu.Lock()
			want := last[ch]
			mu.Unlock()
			if !testenv.Poll(30*time.Second, func() bool { return uint64(len(c.rec.get(ch))) >= want }) {
				t.Errorf("%s %s: %d messages, want %d", c.user, ch, len(c.rec.get(ch)), want)
				continue
			}
			for i, seq := range c.rec.get(ch) {
				if seq != uint64(i+1) {
					t.Errorf("%s %s: message %d has seq %d (gap, duplicate or disorder)", c.user, ch, i, seq)
					break
				}
			}
		}
	}
	var st admin.Status
	f.adminJSON(t, "GET", "/api/v1/status", "", 200, &st)
	if st.Moves.Done != uint64(movedTotal) || st.Moves.Failed != 0 {
		t.Errorf("status moves %+v, PUT answers moved %d", st.Moves, movedTotal)
	}
	if st.Messages.Gaps != 0 || st.Messages.Rejected != 0 {
		t.Errorf("message counters %+v", st.Messages)
	}
}

// checkStatusCounts compares GET /api/v1/status with the router's buckets.
func checkStatusCounts(t *testing.T, f *front, e *env, clients []*edgeClient, w float64) {
	t.Helper()
	table := e.g.Router().Table()
	var blue, green int
	for _, c := range clients {
		if table.Backend(c.user) == router.Green {
			green++
		} else {
			blue++
		}
	}
	var st admin.Status
	f.adminJSON(t, "GET", "/api/v1/status", "", 200, &st)
	if st.Weight != w || st.Sessions.Blue != blue || st.Sessions.Green != green || st.Sessions.Detached != 0 {
		t.Errorf("weight %v: status %+v, buckets say blue %d green %d", w, st, blue, green)
	}
	if !st.Backends["blue"].Up || !st.Backends["green"].Up {
		t.Errorf("backends %+v", st.Backends)
	}
}
