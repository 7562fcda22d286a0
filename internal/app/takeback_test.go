package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// sendWithin is adminSend with its own bound: an error when the gateway
// has not answered within d.
func sendWithin(t *testing.T, a *App, d time.Duration, method, path, body string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.AdminAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer), err
}

// promptly bounds how long an admin call may take in these tests: far
// below the half minute the hand-set weight's moves would take.
const promptly = 5 * time.Second

// TestWeightSetByHandIsCalledOffWhenItsGatewayLosesTheStore: an operator
// sets a weight by hand on the holder, paced (handover.moves_per_second:
// 1) so that its moves would take half a minute. Meanwhile the holder
// loses the store to another gateway and follows it; that gateway goes,
// and the holder takes the store back. The weight is stored nowhere (the
// follower applies the stored one): its moves are called off at the
// demotion, and the PUT answers 409 then, rather than once every session
// has moved to a weight the gateway undoes. Throughout, a rollout command
// and a weight sent to the gateway are served or refused promptly, never
// left waiting for those moves; the take-back does not wait for them
// either.
func TestWeightSetByHandIsCalledOffWhenItsGatewayLosesTheStore(t *testing.T) {
	cfg, _ := sharedStoreConfigs(t)
	cfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	cfg.Handover.MovesPerSecond = 1
	h := start(t, cfg, Options{})
	hs := clients(t, h.App, 30)

	type answer struct {
		code int
		body string
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		code, body, err := sendWithin(t, h.App, 2*time.Minute, http.MethodPut, "/api/v1/weight", `{"weight":100}`)
		first <- answer{code, body, err}
	}()
	testenv.Eventually(t, "the weight's moves to begin", 10*time.Second, func() bool {
		return h.Gateway().Status().Sessions.Green > 0
	})
	takeLease(t, cfg)
	testenv.Eventually(t, "the holder to follow", 10*time.Second, func() bool { return h.storeRole().Role == "follower" })
	select {
	case a := <-first:
		if a.err != nil || a.code != http.StatusConflict || !strings.Contains(a.body, "other-host") {
			t.Errorf("PUT /api/v1/weight across the demotion: %d %s %v, want 409 naming the new holder", a.code, a.body, a.err)
		}
	case <-time.After(promptly):
		t.Fatalf("PUT /api/v1/weight still moving sessions %v after its gateway lost the store (%d of 30 on green): its weight is stored nowhere", promptly, h.Gateway().Status().Sessions.Green)
	}

	freeStore(t, cfg)
	for {
		took := h.Controller() != nil
		for _, c := range []struct{ method, path, body string }{
			{http.MethodPost, "/api/v1/rollout/pause", ""},
			{http.MethodPut, "/api/v1/weight", `{"weight":0}`},
		} {
			code, body, err := sendWithin(t, h.App, promptly, c.method, c.path, c.body)
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("%s %s during the take-back: no answer within %v", c.method, c.path, promptly)
			case err != nil:
				t.Fatal(err)
			case code != http.StatusOK && code != http.StatusConflict && code != http.StatusServiceUnavailable:
				t.Fatalf("%s %s during the take-back: %d %s, want it served or refused with 409 or 503", c.method, c.path, code, body)
			}
		}
		if took {
			break
		}
	}
	testenv.Eventually(t, "the gateway back at the stored weight", 10*time.Second, func() bool {
		return h.Gateway().Status().Weight == storedState(t, h.App).Weight
	})
	if w := storedState(t, h.App).Weight; w != 0 {
		t.Errorf("the store holds %v, want 0: the weight set across the demotion was stored", w)
	}
	checkDelivery(t, hs)
}

// TestCommandsWhileATakeBackWaitsForAWeightSetByHand: a weight set by
// hand on the controller this gateway lost has not returned (its change
// stuck) when the gateway takes the store back. The take-back waits for
// it, holding the lease with no controller; meanwhile a weight and a
// rollout command are refused at once with 503 saying why, not left
// hanging, nor told to go to the gateway that went.
func TestCommandsWhileATakeBackWaitsForAWeightSetByHand(t *testing.T) {
	cfg, _ := sharedStoreConfigs(t)
	cfg.Rollout.Store.WhenHeld = config.WhenHeldFollow
	h := start(t, cfg, Options{})
	hs := clients(t, h.App, 4)

	release := make(chan struct{})
	setDone := make(chan error, 1)
	go func() {
		setDone <- h.role.SetWeightByHand(context.Background(), router.Weight(5000), func(context.Context) error {
			<-release // a change that does not end with its context
			return nil
		})
	}()
	testenv.Eventually(t, "the weight set by hand to begin", 10*time.Second, func() bool {
		if h.role.byHand.TryLock() {
			h.role.byHand.Unlock()
			return false
		}
		return true
	})
	takeLease(t, cfg)
	testenv.Eventually(t, "the holder to follow", 10*time.Second, func() bool { return h.storeRole().Role == "follower" })
	freeStore(t, cfg)
	testenv.Eventually(t, "the take-back to wait for the weight set by hand", 10*time.Second, func() bool {
		if h.role.byHand.TryRLock() { // fails once a writer waits
			h.role.byHand.RUnlock()
			return false
		}
		return true
	})
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/api/v1/weight", `{"weight":20}`},
		{http.MethodPost, "/api/v1/rollout/pause", ""},
	} {
		code, body, err := sendWithin(t, h.App, promptly, c.method, c.path, c.body)
		if err != nil {
			t.Errorf("%s %s while the take-back waits: %v", c.method, c.path, err)
			continue
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "taking") || strings.Contains(body, "other-host") {
			t.Errorf("%s %s while the take-back waits: %d %s, want 503 saying this gateway is taking the store", c.method, c.path, code, body)
		}
	}
	close(release)
	if err := <-setDone; err == nil {
		t.Error("the weight set by hand across the demotion succeeded, though it was stored nowhere")
	}
	testenv.Eventually(t, "the holder to run a controller again", 10*time.Second, func() bool { return h.Controller() != nil })
	checkDelivery(t, hs)
}
