package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// restamp is the stored state's blob with the fields in set replaced.
func restamp(t *testing.T, blob []byte, set map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(blob, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFollowerFollowsAgainAfterAFailedTakeOver: the holder goes and the
// follower takes the store, but its controller cannot start (here the
// stored state is a newer build's, written as the follower took the
// lease). The follower says it follows again; it must: not name itself as
// the holder, and apply the weight the next holder stores.
func TestFollowerFollowsAgainAfterAFailedTakeOver(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	// Another gateway takes the store as soon as the follower gave it
	// back, before the follower's next try (a third of a second later)
	// could take it again.
	failed := &logWatch{msg: "follower: took the store but could not start the controller; following again", seen: make(chan struct{}),
		then: func() {
			raw := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
			defer raw.Close()
			if err := raw.Set(context.Background(), followerCfg.Rollout.Store.Prefix+"{store}:owner", "other-host pid 7 0033", time.Minute).Err(); err != nil {
				t.Error(err) // not Fatal: the follower's goroutine
			}
		}}
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{Logger: slog.New(failed)})
	weightOnBoth(t, h, f, 30)

	ctx := context.Background()
	var (
		once sync.Once
		good []byte // the state the newer build's replaced
	)
	testHookHandSetHoldsTakeOver = func() {
		once.Do(func() {
			cur, err := f.st.GetState(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			good = cur.Blob
			if _, err := f.st.CompareAndSetState(ctx, cur.Version, restamp(t, cur.Blob, map[string]any{"schema": 99})); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(func() { testHookHandSetHoldsTakeOver = nil })

	h.stop()
	select {
	case <-failed.seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not fail to start its controller")
	}
	if f.Controller() != nil {
		t.Fatal("the follower runs a controller over a state it cannot load")
	}
	self := leaseOwner(f.AdminAddr(), "")
	if got := f.storeRole().Holder; got == self {
		t.Errorf("after its failed take-over the follower names itself the holder (%q)", got)
	}

	// The other gateway, which took the store, sets 60 %. The follower
	// learns who holds the store by its own reads, every 250 ms: its
	// name is looked at once it has read it, the weight once applied.
	testenv.Eventually(t, "the follower to read the new holder", 10*time.Second, func() bool {
		return strings.HasPrefix(f.storeRole().Holder, "other-host")
	})
	cur, err := f.st.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CompareAndSetState(ctx, cur.Version, restamp(t, good, map[string]any{"weight": 6000})); err != nil {
		t.Fatal(err)
	}
	ok := testenv.Poll(10*time.Second, func() bool { return f.Gateway().Status().Weight == router.Weight(6000) })
	if !ok {
		t.Errorf("the follower stands at %v 10s after the holder stored 60%%: it no longer follows", f.Gateway().Status().Weight)
	}
	if got := f.storeRole().Holder; !strings.HasPrefix(got, "other-host") {
		t.Errorf("the follower names %q, want the holder other-host", got)
	}
}

// logCount counts the records whose message is msg.
type logCount struct {
	msg string
	n   atomic.Int64
}

func (h *logCount) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCount) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h *logCount) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCount) WithGroup(string) slog.Handler      { return h }

// TestFollowerWarnsOnceOfAStateItCannotRead: a stored state the follower
// cannot decode (a newer build's, during an upgrade) is warned about once
// per stored version, not at every read (four a second), and the follower
// applies the next state it can read.
func TestFollowerWarnsOnceOfAStateItCannotRead(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	warned := &logCount{msg: "follower: stored state not understood, kept the last one"}
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{Logger: slog.New(warned)})
	weightOnBoth(t, h, f, 30)

	ctx := testenv.Context(t, 30*time.Second)
	cur, err := f.st.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.st.CompareAndSetState(ctx, cur.Version, restamp(t, cur.Blob, map[string]any{"schema": 99}))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the follower's warning", 10*time.Second, func() bool { return warned.n.Load() > 0 })
	time.Sleep(8 * followInterval) // eight more reads of the same version
	if n := warned.n.Load(); n != 1 {
		t.Errorf("the follower warned %d times of one stored version it cannot read, want once", n)
	}
	if _, err := f.st.CompareAndSetState(ctx, v, restamp(t, cur.Blob, map[string]any{"weight": 6000})); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the follower at the next readable state's 60%", 10*time.Second, func() bool {
		return f.Gateway().Status().Weight == router.Weight(6000)
	})
}

// TestHolderWarnsOfAStoredStateItCannotRead: a state stored over the
// holder's that it cannot decode (a newer build's emergency rollback,
// during an upgrade) cannot be adopted; the holder must say so, once,
// not go on silently.
func TestHolderWarnsOfAStoredStateItCannotRead(t *testing.T) {
	holderCfg, _ := sharedStoreConfigs(t)
	warned := &logCount{msg: "rollout.store: a state stored over this gateway's cannot be read; it is not adopted"}
	h := start(t, holderCfg, Options{Logger: slog.New(warned)})
	if code, body := adminSend(t, h.App, http.MethodPut, "/api/v1/weight", `{"weight":30}`); code != http.StatusOK {
		t.Fatalf("PUT weight: %d %s", code, body)
	}

	ctx := testenv.Context(t, 30*time.Second)
	cur, err := h.st.GetState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.rstore.CompareAndSetState(ctx, cur.Version, restamp(t, cur.Blob, map[string]any{"schema": 99})); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the holder's warning", 10*time.Second, func() bool { return warned.n.Load() > 0 })
	time.Sleep(8 * followInterval) // eight more looks at the same version
	if n := warned.n.Load(); n != 1 {
		t.Errorf("the holder warned %d times of one stored version it cannot read, want once", n)
	}
}
