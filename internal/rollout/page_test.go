package rollout

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/alert"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
)

// leavingShifter leaves `left` sessions on green at every rollback
// attempt: moves back to blue that keep failing.
type leavingShifter struct {
	*fakeShifter
	left int
}

func (s *leavingShifter) SetWeightPaced(ctx context.Context, w router.Weight, pace int) (int, int, error) {
	moved, failed, err := s.fakeShifter.SetWeightPaced(ctx, w, pace)
	if w == 0 && err == nil {
		return moved - s.left, failed + s.left, nil
	}
	return moved, failed, err
}

func (s *leavingShifter) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return s.SetWeightPaced(ctx, w, 0)
}

// pagerDuty is a PagerDuty Events API endpoint on loopback; it keeps the
// event_action of every event it gets, in order.
type pagerDuty struct {
	srv     *httptest.Server
	mu      sync.Mutex
	actions []string
}

func newPagerDuty(t *testing.T) *pagerDuty {
	t.Helper()
	pd := &pagerDuty{}
	pd.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev alert.PagerDutyEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("pagerduty: %v in %s", err, body)
		}
		pd.mu.Lock()
		pd.actions = append(pd.actions, ev.EventAction)
		pd.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(pd.srv.Close)
	return pd
}

// dispatcher sends the alerts to pd, as a PagerDuty webhook.
func (pd *pagerDuty) dispatcher(t *testing.T) *alert.Dispatcher {
	t.Helper()
	d, err := alert.New(config.Alerts{Webhooks: []config.Webhook{{
		Kind: config.WebhookPagerDuty, URL: pd.srv.URL, RoutingKey: "key",
	}}}, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (pd *pagerDuty) got() []string {
	pd.mu.Lock()
	defer pd.mu.Unlock()
	return append([]string(nil), pd.actions...)
}

// A rollback that leaves sessions on green (its moves back keep failing)
// has not ended the incident its start opened: PagerDuty resolves only a
// rollback that finished cleanly (docs/config.md), so the page stays.
func TestIncompleteRollbackKeepsThePage(t *testing.T) {
	pd := newPagerDuty(t)
	d := pd.dispatcher(t)
	h := newHarness(t, func(o *Options) {
		o.Plan.Hold = time.Hour
		o.Shifter = &leavingShifter{fakeShifter: newShifter(), left: 5}
		o.Notifier = d
	})
	if _, err := h.c.Start(ctx, nil); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(h.c, 1)
	if _, err := h.c.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	st := h.waitPhase(h.c, RolledBack)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.Close(cctx); err != nil { // delivers what is queued
		t.Fatal(err)
	}
	got := pd.got()
	if len(got) == 0 || got[len(got)-1] != "trigger" {
		t.Errorf("PagerDuty got %v after a rollback that left sessions on green (%q): the incident was resolved", got, st.Reason)
	}
}
