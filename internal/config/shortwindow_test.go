package config

import "testing"

// The health window counts whole seconds, rounding a fraction up, and a
// gate sees its last second only in part. With the probe on, the gates
// read the probe's latencies: a window of 1s holds the current second
// alone (none of it, at the turn of a second), and one just over 1s holds
// one whole second (5 probes by default). Neither can give the default
// min_samples of 200, so every rollout would run out of extensions and
// roll back; the config must say so, as it does for a 60s window and
// min_samples 296.
func TestShortWindowCannotHideTheProbeBound(t *testing.T) {
	for _, w := range []string{"1s", "500ms", "1100ms"} {
		yml := minimal + "health: {window: " + w + ", probe: {interval: 50ms}}\n"
		_, err := Parse([]byte(yml))
		if err == nil {
			t.Errorf("health.window %s with the probe on and min_samples 200: accepted", w)
			continue
		}
		if !hasField(err, "rollout.min_samples") && !hasField(err, "health.window") {
			t.Errorf("health.window %s: %v", w, err)
		}
	}
	// Without the probe the gates read client requests: no such bound.
	if _, err := Parse([]byte(minimal + "health: {window: 1s, probe: {disabled: true}}\n")); err != nil {
		t.Errorf("probe off: %v", err)
	}
	// 1.1s is two whole seconds to the health window, one of them whole:
	// 20 probes at 50ms.
	if _, err := Parse([]byte(minimal + "health: {window: 1100ms, probe: {interval: 50ms}}\nrollout: {min_samples: 20}\n")); err != nil {
		t.Errorf("min_samples 20 in 1.1s at 50ms: %v", err)
	}
}
