package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestStartBelowTheCurrentWeight: once a rollout completed (everyone on
// green), POST /api/v1/rollout/start with the configured plan (first
// step 10 %) is 409: the message says the weight, the first step, how
// many sessions would go back to blue and what to do; nothing moves and
// the completed rollout stays. "allow_decrease": true starts it.
func TestStartBelowTheCurrentWeight(t *testing.T) {
	h, gw, ctrl := realControllerHarness(t)
	weight := func() router.Weight { return gw.Status().Weight }

	if code, body := h.do("POST", "/api/v1/rollout/start", `{"steps":[50,100]}`); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	testenv.Eventually(t, "step 1 applied", 10*time.Second, func() bool { return ctrl.Status().Applied })
	if code, body := h.do("POST", "/api/v1/rollout/promote", ""); code != 200 {
		t.Fatalf("promote: %d %s", code, body)
	}
	testenv.Eventually(t, "the rollout completed", 10*time.Second, func() bool { return ctrl.Status().Phase == rollout.Completed })
	done := ctrl.Status()

	code, body := h.do("POST", "/api/v1/rollout/start", "")
	e := decodeError(t, body)
	if code != 409 || e.State != "completed" {
		t.Fatalf("start after completion: %d %s, want 409 in state completed", code, body)
	}
	// fakeGateway has 30 sessions on green: 90 % of them would go back.
	for _, want := range []string{"weight is 100 %", "first step is 10 %", "about 27 sessions back to blue", "baton weight set 0", "rollback", `"allow_decrease": true`} {
		if !strings.Contains(e.Error, want) {
			t.Errorf("409 message %q does not say %q", e.Error, want)
		}
	}
	if s := ctrl.Status(); s.ID != done.ID || s.Phase != rollout.Completed || weight() != router.Full {
		t.Fatalf("after the refused start: rollout %s %s, gateway weight %v", s.ID, s.Phase, weight())
	}

	code, body = h.do("POST", "/api/v1/rollout/start", `{"allow_decrease":"yes"}`)
	if e := decodeError(t, body); code != 400 || e.Field != "allow_decrease" {
		t.Errorf("allow_decrease as a string: %d %s, want 400 naming it", code, body)
	}
	code, body = h.do("POST", "/api/v1/rollout/start", `{"allow_decrease":true}`)
	if s := decodeStatus(t, body); code != 200 || s.State != "preparing" || s.ID == done.ID {
		t.Fatalf("start with allow_decrease: %d %s", code, body)
	}
	testenv.Eventually(t, "the first step's weight", 10*time.Second, func() bool { return weight() == 1000 })
}
