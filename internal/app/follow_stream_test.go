package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestEventStreamGoesOnWhenTheFollowerTakesTheStore: an operator follows
// the rollout on a follower's GET /api/v1/events (baton rollout watch, the
// dashboard) when the holder goes. The follower takes the store and goes
// on serving: its stream must not say `shutdown` (watch printed "the
// gateway is shutting down", the dashboard "the gateway is stopping"), and
// carries the new holder's status and transitions from then on.
func TestEventStreamGoesOnWhenTheFollowerTakesTheStore(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	er := openEvents(ctx, t, f)

	h.stop()
	// The stream goes on with the new holder's status: started only
	// then, the rollout's first transition reaches it (one made before,
	// between the take-over and the switch, comes ahead of that status:
	// TestFollowersStreamGetsTheNewHoldersRecovered).
	next := func(want func(admin.StreamEvent) bool) {
		t.Helper()
		for {
			ev, err := er.Next()
			if err != nil {
				t.Fatalf("the follower's stream ended at its take-over: %v", err)
			}
			if ev.Name == admin.EventShutdown {
				t.Fatal("the follower's stream said shutdown at its take-over; the gateway goes on")
			}
			if want(ev) {
				return
			}
		}
	}
	next(func(ev admin.StreamEvent) bool { return ev.Name == admin.EventStatus })
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	if _, err := f.Controller().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	next(func(ev admin.StreamEvent) bool {
		return ev.Name == admin.EventTransition && bytes.Contains(ev.Data, []byte(`"kind":"`+string(rollout.EventStarted)+`"`))
	})
}

// TestFollowersConflictSaysTheState: docs/api.md promises `state` on every
// 409; a follower's refusal of a command or a weight is one, and its
// state is the holder's rollout it shows.
func TestFollowersConflictSaysTheState(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/rollout/pause", ""},
		{http.MethodPut, "/api/v1/weight", `{"weight":50}`},
	} {
		code, body := adminSend(t, f.App, req.method, req.path, req.body)
		var ans struct{ Error, State string }
		if err := json.Unmarshal([]byte(body), &ans); err != nil || code != http.StatusConflict || ans.State != string(rollout.Idle) {
			t.Errorf("%s %s on the follower: %d %s, want 409 with the state idle", req.method, req.path, code, body)
		}
	}
}

// TestFollowersStreamGetsTheNewHoldersRecovered: the follower that takes
// the store resumes the rollout its holder left and says so with a
// `recovered` event, made before its streams switch to its controller.
// An operator watching that follower must see it on the stream, in its
// place before the transitions that follow (here, a pause).
func TestFollowersStreamGetsTheNewHoldersRecovered(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{TestHold: time.Minute})
	f := start(t, followerCfg, Options{TestHold: time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.Controller().Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, "the follower to show the holder's rollout", 10*time.Second, func() bool { return f.role.Status().Phase.Active() })
	er := openEvents(ctx, t, f)

	h.stop()
	testenv.Eventually(t, "the follower to take the store", 10*time.Second, func() bool { return f.Controller() != nil })
	// Once the stream has switched (its status), a pause made now reaches
	// it; the recovered event must have come before it.
	recovered, switched := false, false
	for {
		ev, err := er.Next()
		if err != nil {
			t.Fatalf("the follower's stream ended: %v", err)
		}
		isKind := func(k rollout.EventKind) bool {
			return ev.Name == admin.EventTransition && bytes.Contains(ev.Data, []byte(`"kind":"`+string(k)+`"`))
		}
		switch {
		case ev.Name == admin.EventStatus && !switched:
			switched = true
			if _, err := f.Controller().Pause(ctx); err != nil {
				t.Fatal(err)
			}
		case isKind(rollout.EventRecovered):
			recovered = true
		case isKind(rollout.EventPaused):
			if !recovered {
				t.Fatal("the follower's stream carried the new holder's pause but not its recovered event")
			}
			return
		}
	}
}

// TestFollowersStreamGetsTheOldHoldersLastEvent: the holder stores an
// event in its last moments, after the follower's last read of the event
// log (it reads every 250 ms), and goes; the follower takes the store. An
// operator watching the follower's stream must get that event, before
// the stream switches to the follower's own controller (its status): it
// is in the store, and nothing else would ever show it there.
func TestFollowersStreamGetsTheOldHoldersLastEvent(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last := rollout.Event{Kind: rollout.EventPaused, RolloutID: "r-last", From: rollout.Shifting, To: rollout.Paused, Message: "paused by the holder as it went"}
	var once sync.Once
	testHookHandSetHoldsTakeOver = func() {
		once.Do(func() { // the follower holds the lease, its last read made
			data, err := json.Marshal(last)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := f.st.AppendEvent(ctx, store.Event{Kind: string(last.Kind), Data: data}); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(func() { testHookHandSetHoldsTakeOver = nil })

	er := openEvents(ctx, t, f)

	h.stop()
	for {
		ev, err := er.Next()
		if err != nil {
			t.Fatalf("the follower's stream ended: %v", err)
		}
		switch {
		case ev.Name == admin.EventTransition && bytes.Contains(ev.Data, []byte(last.Message)):
			return
		case ev.Name == admin.EventStatus, ev.Name == admin.EventShutdown:
			t.Fatalf("the follower's stream went on with its own controller (%s) without the old holder's last event", ev.Name)
		}
	}
}

// openEvents opens g's event stream (GET /api/v1/events) for as long as
// ctx and the test last, and reads its first event, the status.
func openEvents(ctx context.Context, t *testing.T, g *running) *admin.EventReader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.AdminAddr()+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	er := admin.NewEventReader(resp.Body)
	if ev, err := er.Next(); err != nil || ev.Name != admin.EventStatus {
		t.Fatalf("first event %+v, %v; want status", ev, err)
	}
	return er
}
