package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/gateway"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// muteBackend is a legacy backend that accepts TCP connections and never
// answers the WebSocket upgrade: a move to it lasts until its caller gives
// up.
func muteBackend(t *testing.T) config.Backend {
	t.Helper()
	return config.Backend{URL: "ws://" + testenv.MuteListener(t) + "/ws", Protocol: config.ProtocolLegacy, DialTimeout: time.Minute}
}

// TestWeightGivenUpWhileWaitingIsNotStored: an operator's weight change
// waits for one already under way (its move to a green that never
// answers). Its caller gives up meanwhile (the admin client hung up, the
// CLI's --timeout fired): the gateway never applies that weight, so it
// must not be stored either, or the followers (and a restart) would apply
// a weight the holder never had. The store keeps the weight before, and
// once the change under way ends, the followers come to its weight, the
// holder's.
func TestWeightGivenUpWhileWaitingIsNotStored(t *testing.T) {
	holderCfg, followerCfg := sharedStoreConfigs(t)
	green := muteBackend(t)
	for _, c := range []*config.Config{holderCfg, followerCfg} {
		c.Backends.Green = green
		c.Health.Probe.Disabled = true
		c.Handover.Timeout = time.Minute
	}
	h := start(t, holderCfg, Options{})
	f := start(t, followerCfg, Options{})
	hs := clients(t, h.App, 1)
	putWeight(t, h.App, 0) // stored: the weight before
	ctx := testenv.Context(t, 60*time.Second)

	firstCtx, cancelFirst := context.WithCancel(ctx)
	defer cancelFirst()
	first := make(chan error, 1)
	go func() {
		first <- h.role.SetWeightByHand(firstCtx, router.Full, func(context.Context) error {
			_, _, err := h.Gateway().SetWeight(firstCtx, router.Full)
			return err
		})
	}()
	testenv.Eventually(t, "the first change to apply its weight", 10*time.Second, func() bool {
		return h.Gateway().Status().Weight == router.Full
	})

	// The second change's caller is gone while it waits for the first.
	secondCtx, cancelSecond := context.WithCancel(ctx)
	cancelSecond()
	err := h.role.SetWeightByHand(secondCtx, router.Weight(5000), func(context.Context) error {
		_, _, err := h.Gateway().SetWeight(secondCtx, router.Weight(5000))
		return err
	})
	if !errors.Is(err, gateway.ErrNotApplied) {
		t.Errorf("weight change given up while another was under way: %v, want gateway.ErrNotApplied", err)
	}
	if w := storedState(t, h.App).Weight; w != 0 {
		t.Errorf("store holds %v after a weight change that was never applied, want the weight before, 0", w)
	}

	cancelFirst()
	if err := <-first; !errors.Is(err, context.Canceled) || errors.Is(err, gateway.ErrNotApplied) {
		t.Errorf("first change, cut off after applying its weight: %v, want context.Canceled and no ErrNotApplied", err)
	}
	if w := storedState(t, h.App).Weight; w != router.Full {
		t.Errorf("store holds %v after the first change, want its %v", w, router.Full)
	}
	testenv.Eventually(t, "the follower to apply the holder's weight", 10*time.Second, func() bool {
		return f.Gateway().Status().Weight == router.Full
	})
	checkDelivery(t, hs)
}
