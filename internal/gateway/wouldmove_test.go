package gateway_test

import (
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestWouldMove counts, moving nobody, the sessions a weight would move
// each way: those whose bucket the change crosses, as SetWeight then
// moves them.
func TestWouldMove(t *testing.T) {
	e := setup(t, router.Full)
	ctx := testenv.Context(t, 60*time.Second)
	clients := e.attach(t, 60, []string{"a"})
	crossing := func(from, to router.Weight) int {
		n := 0
		for _, c := range clients {
			if router.Crosses(from, to, e.g.Router().Table().Bucket(c.s.User())) {
				n++
			}
		}
		return n
	}
	want := crossing(router.Full, 1000)
	if toBlue, toGreen := e.g.WouldMove(1000); toBlue != want || toGreen != 0 || want == 0 {
		t.Fatalf("from 100 %% to 10 %%: %d to blue, %d to green; want %d to blue", toBlue, toGreen, want)
	}
	if toBlue, toGreen := e.g.WouldMove(router.Full); toBlue != 0 || toGreen != 0 {
		t.Errorf("the weight in place: %d to blue, %d to green", toBlue, toGreen)
	}
	if st := e.g.Status(); st.Weight != router.Full || st.Sessions.Green != len(clients) {
		t.Fatalf("WouldMove changed something: %+v", st.Sessions)
	}
	moved, failed, err := e.g.SetWeight(ctx, 1000)
	if err != nil || failed != 0 || moved != want {
		t.Fatalf("SetWeight(10 %%): moved %d failed %d (%v), want %d", moved, failed, err, want)
	}
	if toBlue, toGreen := e.g.WouldMove(router.Full); toBlue != 0 || toGreen != want {
		t.Errorf("back to 100 %%: %d to blue, %d to green; want %d to green", toBlue, toGreen, want)
	}
}
