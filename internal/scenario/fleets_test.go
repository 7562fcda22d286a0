package scenario

import (
	"cmp"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// fleets is a smaller mix of clients for the failure cases: Go legacy
// clients and official socket.io-client ones, all checked the same way.
type fleets struct {
	gf      *goFleet
	nf      *nodeFleet
	members []member
	users   []string
}

func startFleets(t *testing.T, ctx context.Context, c *cluster, nGo, nNode int, channels []string, perClient int) *fleets {
	t.Helper()
	goSpecs := fleetSpecs("legacy", nGo, channels, perClient, 11)
	nodeSpecs := fleetSpecs("node", nNode, channels, perClient, 12)
	nodeTransports(nodeSpecs)
	f := &fleets{gf: startGoFleet(t, ctx, c.edgeAddr, goSpecs), users: users(goSpecs, nodeSpecs)}
	f.members = f.gf.members()
	if nNode > 0 {
		f.nf = startNodeFleet(t, c.edgeAddr, nodeSpecs, 60*time.Second)
		f.members = append(f.members, f.nf.members()...)
	}
	return f
}

// verify waits for every client to reach last on its channels and wants
// every stream complete, in order, without duplicates or disconnects.
func (f *fleets) verify(t *testing.T, last map[string]uint64) {
	t.Helper()
	start := time.Now()
	if !testenv.Poll(60*time.Second, func() bool { return f.gf.caughtUp(last) }) {
		t.Errorf("legacy clients not caught up within 60s")
	}
	goBad, goRecv := summarize(t, "legacy", f.gf.results(last))
	var nodeBad, nodeRecv int
	if f.nf != nil {
		res, err := f.nf.finish(last, 90*time.Second)
		if err != nil {
			t.Error(err)
		}
		if len(res) != len(f.nf.specs) {
			t.Errorf("node fleet reported %d of %d clients", len(res), len(f.nf.specs))
		}
		nodeBad, nodeRecv = summarize(t, "node", res)
	}
	t.Logf("verified in %v: legacy %d messages (%d bad clients), node %d messages (%d bad clients)",
		time.Since(start).Round(time.Millisecond), goRecv, goBad, nodeRecv, nodeBad)
}

// nodeLeft lists the node clients whose session the gateway still has,
// with their transport: after the fleet has closed them, a session left
// says which kind of client the gateway did not see go.
func (f *fleets) nodeLeft(c *cluster) []string {
	if f.nf == nil {
		return nil
	}
	var left []string
	for i, id := range f.nf.ids {
		if _, err := c.session(id); err == nil {
			spec := f.nf.specs[i]
			left = append(left, fmt.Sprintf("%s %s (%s)", id, spec.User, cmp.Or(spec.Transport, "upgrade")))
		}
	}
	return left
}
