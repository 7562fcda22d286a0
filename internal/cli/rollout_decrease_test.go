package cli

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/store/memstore"
)

type quietHealth struct{}

func (quietHealth) SnapshotSince(router.Color, time.Time) rollout.BackendHealth {
	return rollout.BackendHealth{}
}
func (quietHealth) Preservation() rollout.Preservation { return rollout.Preservation{} }

// `rollout start` in front of a gateway at 25 % with the configured steps
// (10 % first) is refused, and says why and what to do; --steps from the
// current weight up starts, and so does --allow-decrease.
func TestRolloutStartBelowTheCurrentWeight(t *testing.T) {
	st, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	ctrl, err := rollout.New(context.Background(), rollout.Options{
		Plan: config.Rollout{Hold: time.Hour}, Shifter: cliGateway{}, Health: quietHealth{}, Store: st,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ctrl.Close() }()
	api, err := admin.New(admin.Options{Gateway: cliGateway{}, Token: cliToken, Rollout: admin.ControllerRollout(ctrl)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx := context.Background()
	conn := []string{"--admin", srv.URL, "--token", cliToken}

	_, err = baton(ctx, append([]string{"rollout", "start"}, conn...)...)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.State != "idle" {
		t.Fatalf("start at 25 %% with a first step of 10 %%: %v, want a 409", err)
	}
	for _, want := range []string{"weight is 25 %", "first step is 10 %", "about 15 sessions back to blue", "baton weight set 0", "--steps", "--allow-decrease"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if out, err := baton(ctx, append([]string{"rollout", "start", "--steps", "25,50,100"}, conn...)...); err != nil || !strings.Contains(out, "preparing") {
		t.Fatalf("start from the current weight up: %v %q", err, out)
	}
	if _, err := baton(ctx, append([]string{"rollout", "abort"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	if out, err := baton(ctx, append([]string{"rollout", "start", "--allow-decrease"}, conn...)...); err != nil || !strings.Contains(out, "preparing, step 0/5") {
		t.Fatalf("start --allow-decrease: %v %q", err, out)
	}
}
