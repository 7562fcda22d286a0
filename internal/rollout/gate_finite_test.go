package rollout

import "testing"

// rollout.non_inferiority.confidence is accepted anywhere in (0.5, 1), e.g.
// 0.9999999999999999, the largest float64 below 1. The verdict stays
// finite, and the state holding it can be stored: a NaN in it once made
// every gate's commit fail, so the rollout neither advanced nor rolled back.
func TestExtremeConfidenceGivesAStorableVerdict(t *testing.T) {
	p := defaultPlan(t, &Override{NonInferiority: &NonInferiorityOverride{Confidence: ptr(0.9999999999999999)}})
	v := evaluate(p, healthyInput())
	for _, c := range v.Checks {
		if !finite(c.Value, c.Limit) {
			t.Errorf("%s: value %v (%s)", c.Name, c.Value, c.Detail)
		}
	}
	s := State{Phase: Shifting, Plan: p, Step: 1}
	s.addVerdict(v)
	if _, err := encodeState(s); err != nil {
		t.Errorf("state with this verdict cannot be stored: %v", err)
	}
}
