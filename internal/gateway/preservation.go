package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/session"
)

// Preservation counts what the moves of weight changes (SetWeightPaced),
// and their retries (retry.go), kept. The counters only grow; the rollout
// gates read their increase over a step.
type Preservation struct {
	// MovesTried counts moves started on a session that was open;
	// SocketsKept those after which the session — and so its client
	// socket — was still open, whether the move succeeded or the session
	// stayed where it was. A client that leaves on its own during its move
	// counts as not kept: the measure may under-report, never hide a loss.
	MovesTried, SocketsKept uint64
	// SubscriptionsTried counts the channels the moved sessions had when
	// their move started; SubscriptionsKept those still held by the
	// session, open and attached, once the move ended.
	SubscriptionsTried, SubscriptionsKept uint64
}

// preservation holds the Preservation counters.
type preservation struct {
	tried, kept         atomic.Uint64
	subsTried, subsKept atomic.Uint64
}

// Preservation returns the counters so far.
func (g *Gateway) Preservation() Preservation {
	p := &g.pres
	return Preservation{
		MovesTried: p.tried.Load(), SocketsKept: p.kept.Load(),
		SubscriptionsTried: p.subsTried.Load(), SubscriptionsKept: p.subsKept.Load(),
	}
}

// movePreserving is move with the preservation counted.
func (g *Gateway) movePreserving(ctx context.Context, s *session.Session, to router.Color, failed slog.Level) (bool, error) {
	before := s.Info()
	if before.Closed {
		return false, nil
	}
	ok, err := g.move(ctx, s, to, failed)
	after := s.Info()
	p := &g.pres
	p.tried.Add(1)
	p.subsTried.Add(uint64(len(before.Subscriptions)))
	if after.Closed {
		return ok, err
	}
	p.kept.Add(1)
	if after.Attached {
		p.subsKept.Add(uint64(kept(before.Subscriptions, after.Subscriptions)))
	}
	return ok, err
}

// kept counts the channels of before that are in after.
func kept(before, after []session.SubscriptionInfo) int {
	have := make(map[string]struct{}, len(after))
	for _, sb := range after {
		have[sb.Channel] = struct{}{}
	}
	n := 0
	for _, sb := range before {
		if _, ok := have[sb.Channel]; ok {
			n++
		}
	}
	return n
}
