package app

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
)

// TestRestartResumesAtStoredStep: a gateway drained mid-rollout and built
// again over the same bolt file resumes at the step it stood on, with its
// weight, and completes without running the passed steps again.
func TestRestartResumesAtStoredStep(t *testing.T) {
	blue, green := testBackends(t)
	path := filepath.Join(t.TempDir(), "baton.db")

	// Holds long enough to stop the first gateway inside step 1; the
	// stored plan keeps them, so the whole rollout takes about 10 s.
	first := start(t, testConfig(blue, green, path), Options{TestHold: 2 * time.Second})
	if _, err := first.Controller().Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var before rollout.State
	for {
		before = first.Controller().Status()
		if before.Phase == rollout.Shifting && before.Step == 1 && before.Applied {
			break
		}
		if time.Now().After(deadline) || !before.Phase.Active() {
			t.Fatalf("first gateway: %s step %d applied %v", before.Phase, before.Step, before.Applied)
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.stop()

	second := start(t, testConfig(blue, green, path), Options{})
	resumed := second.Controller().Status()
	if resumed.ID != before.ID || resumed.Step != before.Step || resumed.Weight != before.Weight || !resumed.Phase.Active() {
		t.Fatalf("resumed %s step %d weight %v (rollout %s), want step %d weight %v of %s",
			resumed.Phase, resumed.Step, resumed.Weight, resumed.ID, before.Step, before.Weight, before.ID)
	}
	st := waitPhase(t, second.Controller(), 60*time.Second, rollout.Completed, rollout.RolledBack, rollout.Aborted)
	if st.Phase != rollout.Completed {
		t.Fatalf("resumed rollout ended %s: %s", st.Phase, st.Reason)
	}
	seen := map[int]int{}
	for _, r := range st.Steps {
		seen[r.Step]++
	}
	for step, n := range seen {
		if n != 1 {
			t.Errorf("step %d entered %d times: %+v", step, n, st.Steps)
		}
	}
	if w := second.Gateway().Status().Weight; w != router.Full {
		t.Errorf("weight after the resumed rollout: %v", w)
	}
}

// TestRestartKeepsAWeightSetByHand: a weight set through the admin API is
// stored, and a gateway built again over the same bolt file starts at it,
// not at the config's routing.weight.
func TestRestartKeepsAWeightSetByHand(t *testing.T) {
	blue, green := testBackends(t)
	path := filepath.Join(t.TempDir(), "baton.db")
	first := start(t, testConfig(blue, green, path), Options{})
	req, err := http.NewRequest(http.MethodPut, "http://"+first.AdminAddr()+"/api/v1/weight", strings.NewReader(`{"weight":30}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+first.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT weight: %d", resp.StatusCode)
	}
	first.stop()

	second := start(t, testConfig(blue, green, path), Options{}) // routing.weight 0
	want := router.Weight(3000)
	deadline := time.Now().Add(10 * time.Second)
	for second.Gateway().Status().Weight != want {
		if time.Now().After(deadline) {
			t.Fatalf("restarted at %v, want the %v set by hand", second.Gateway().Status().Weight, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
