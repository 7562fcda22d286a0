package gateway

import "github.com/baton-rt/baton/internal/router"

// KeepStandby turns standbys on or off. While on, a session moved from
// blue to green keeps its blue connection open and idle (its channels
// left) as a standby, so that moving it back (a rollback, above all an
// emergency one) is a resubscribe on that connection rather than a new
// connection and handshake to blue. The price is one idle upstream
// connection per moved session on blue while it lasts. Turning standbys
// off closes every standby, in the background. The rollout controller
// keeps them on while a rollout runs.
func (g *Gateway) KeepStandby(on bool) {
	if g.standby.Swap(on) == on || on {
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return // Close closes the sessions, standbys with them
	}
	g.wg.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.wg.Done()
		g.releaseStandbys()
	}()
}

// keepsStandby is handover.Options.Standby: only blue connections are kept,
// since a rollout's way back is to blue.
func (g *Gateway) keepsStandby(from router.Color) bool {
	return from == router.Blue && g.standby.Load()
}

// releaseStandbys closes every session's standby, through the retirement
// queue, unless standbys were turned on again meanwhile.
func (g *Gateway) releaseStandbys() {
	for _, s := range g.Sessions() {
		if g.standby.Load() {
			return
		}
		if _, ok := s.Standby(); ok {
			g.retire.run(s.ReleaseStandby)
		}
	}
}
