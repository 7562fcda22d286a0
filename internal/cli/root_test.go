package cli

import (
	"context"
	"strings"
	"testing"
)

// TestUnknownSubcommandFails: a mistyped subcommand of a command group
// (`baton rollout emergency-rollback`, the API's name for `emergency`) is
// an error, so that a script or an operator in an incident does not take
// the group's help, exit 0, for a command carried out.
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{
		{"rollout", "emergency-rollback"},
		{"rollout", "statsu", "--admin", "http://127.0.0.1:1"},
		{"gwbench", "bogus"},
		{"bench", "bogus"},
	} {
		out, err := baton(context.Background(), args...)
		if err == nil || !strings.Contains(err.Error(), `unknown command "`+args[1]+`"`) {
			t.Errorf("baton %s: err %v (output %.60q), want an unknown command error", strings.Join(args, " "), err, out)
		}
	}
	// The group alone still shows its help.
	if out, err := baton(context.Background(), "rollout"); err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("baton rollout: %v, %.60q; want its help", err, out)
	}
}
