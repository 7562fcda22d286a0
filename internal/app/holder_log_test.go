package app

import (
	"log/slog"
	"testing"
	"time"
)

// The gateway that takes a Redis store at its start says so, as a
// follower says whom it follows: a walk-through with two gateways found
// no line telling which one runs the rollout.
func TestHolderSaysItHoldsTheStore(t *testing.T) {
	holderCfg, _ := sharedStoreConfigs(t)
	held := &logWatch{msg: "rollout.store: held by this gateway; it runs the rollout", seen: make(chan struct{})}
	start(t, holderCfg, Options{Logger: slog.New(held)})
	select {
	case <-held.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway that took the store logged nothing saying so")
	}
}
