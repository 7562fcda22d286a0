package demo

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/sleep"
)

// Ending the traffic ends the clients' requests, not their connections:
// Run tallies the sessions right after stopping the traffic, so a
// connection closed by that stop would be reported as a reconnect that no
// backend caused. The clients are legacy ones on blue (whose client closes
// its connection when the context of a write in progress ends), making a
// request every millisecond, so that stopping catches some mid-request.
func TestStoppingTrafficEndsNoConnection(t *testing.T) {
	be, err := startBackends(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer be.close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const clients, rounds = 16, 40
	fl := newFleet(clients, 1, channelNames(2), func(string) string { return "blue" })
	defer fl.close()
	for _, c := range fl.clients {
		c.proto = Legacy // blue speaks legacy only
	}
	if err := fl.dial(ctx, be.blueLn.Addr().String(), nil); err != nil {
		t.Fatal(err)
	}
	for round := range rounds {
		traffic, stopTraffic := context.WithCancel(ctx)
		fl.startRequests(traffic, time.Millisecond)
		// Stop once every client has made a few requests since the last round.
		want := uint64((round + 1) * clients * 3)
		for fl.requestsMade() < want && sleep.For(ctx, time.Millisecond) == nil {
		}
		stopTraffic()
		fl.requests.Wait()
		if tl := fl.tally(nil, time.Now()); tl.Disconnects != 0 {
			t.Fatalf("round %d: stopping the traffic ended %d of %d connections: %q", round, tl.Disconnects, clients, tl.FirstErrors)
		}
	}
}

// requestsMade counts the requests recorded on every backend.
func (f *fleet) requestsMade() uint64 {
	var n uint64
	for _, l := range f.lat.summary() {
		n += l.Requests
	}
	return n
}
