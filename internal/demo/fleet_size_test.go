package demo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestConfigRefusesAFleetTheGatesCannotJudge: the demo gates on its
// clients' requests (30 latency samples per 10 s health window). At the
// first step (10 %) green holds a tenth of the clients, so 20 clients at
// the default request period give green about 20 samples a window: every
// verdict is inconclusive until the step fails and the rollout rolls back,
// without any fault (`baton demo --clients 20` exits 2, "green has 27
// latency samples, need 30"). Such a fleet is refused up front, naming what
// to change; one the gates can judge is not.
func TestConfigRefusesAFleetTheGatesCannotJudge(t *testing.T) {
	err := (&Config{Clients: 20}).Validate()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "clients 20") {
		t.Errorf("20 clients, a request every 1s: %v, want an ErrInvalidConfig naming the clients", err)
	}
	for _, ok := range []Config{
		{},
		{Clients: 30},
		{Clients: 20, RequestEvery: 500 * time.Millisecond},
		{Clients: 40, RequestEvery: 50 * time.Millisecond},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%d clients, a request every %v: %v", ok.Clients, ok.RequestEvery, err)
		}
	}
}
