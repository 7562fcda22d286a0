package config

import "testing"

// A gate reads the probe's samples since its step began, so a step gathers
// what the probe gives over its hold and extensions, however long the
// health window: with a 5 s hold and one extension, 10 s of probes every
// 100 ms, 100 samples. min_samples 200 could never gather, and every
// rollout would run out of extensions and roll back; the config must say
// so, as it does for a window too short (TestShortWindowCannotHideTheProbeBound).
func TestMinSamplesWithinWhatAStepGathers(t *testing.T) {
	_, err := Parse([]byte(minimal + "rollout: {hold: 5s, max_extensions: 1}\n"))
	if !hasField(err, "rollout.min_samples") {
		t.Errorf("hold 5s, one extension, min_samples 200, a probe every 100ms: %v, want rollout.min_samples refused", err)
	}
	for _, yml := range []string{
		minimal + "rollout: {hold: 5s, max_extensions: 1, min_samples: 50}\n",
		minimal + "rollout: {hold: 5s, max_extensions: 39}\n",                                   // 200 s: the window's 590 bound
		minimal + "rollout: {hold: 5s, max_extensions: 1}\nhealth: {probe: {disabled: true}}\n", // client requests: no bound
	} {
		if _, err := Parse([]byte(yml)); err != nil {
			t.Errorf("%s: %v", yml, err)
		}
	}
	if n := StepProbes(5e9, 1, 2e8); n != 50 {
		t.Errorf("StepProbes(5s, 1, 200ms) = %d, want 50", n)
	}
	if n := StepProbes(1<<62, 1<<40, 1); n <= 0 {
		t.Errorf("StepProbes overflows: %d", n)
	}
}
