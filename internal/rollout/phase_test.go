package rollout

import "testing"

// TestTransitionErrorNamesTheCommand: a refusal names the command in words
// (the admin API answers 409 with it), not by its identifier.
func TestTransitionErrorNamesTheCommand(t *testing.T) {
	for _, c := range []struct {
		err  *TransitionError
		want string
	}{
		{&TransitionError{Op: OpEmergency, Phase: Idle}, "rollout: cannot emergency rollback while idle"},
		{&TransitionError{Op: OpSetWeight, Phase: Shifting}, "rollout: cannot set weight while shifting"},
		{&TransitionError{Op: OpStart, Phase: Paused, Emergency: true}, "rollout: cannot start: an emergency rollback is already running"},
		{&TransitionError{Op: OpEmergency, ByHand: true}, "rollout: cannot emergency rollback: a weight set by hand is being applied"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
