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

// TestMissingArgumentSaysWhat: a command run without the argument it needs
// (or with one too many) says which argument, in words, rather than
// cobra's "accepts 1 arg(s), received 0".
func TestMissingArgumentSaysWhat(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"weight", "set"}, "weight set: missing the weight (0-100)"},
		{[]string{"weight", "prepare"}, "weight prepare: missing the weight (0-100)"},
		{[]string{"weight", "set", "25", "50"}, `weight set: takes only the weight (0-100), got 2 arguments: 25 50`},
		{[]string{"bench", "report"}, "bench report: missing the result files (RESULT.json...)"},
		{[]string{"gwbench", "report"}, "gwbench report: missing the result file (RESULT.json)"},
		{[]string{"gwbench", "report", "a.json", "b.json"}, "gwbench report: takes only the result file (RESULT.json), got 2 arguments: a.json b.json"},
	} {
		_, err := baton(context.Background(), tc.args...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("baton %s: %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestUnknownSubcommandSuggests: a mistyped subcommand, at the top or in
// a command group, gets cobra's "Did you mean this?" with the near names.
func TestUnknownSubcommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"rolout"}, "rollout"},
		{[]string{"rollout", "statsu"}, "status"},
		{[]string{"rollout", "emergncy"}, "emergency"},
		{[]string{"weight", "sett", "25"}, "set"},
		{[]string{"gwbench", "reprot"}, "report"},
	} {
		_, err := baton(context.Background(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), "Did you mean this?\n\t"+tc.want+"\n") {
			t.Errorf("baton %s: %v, want a suggestion of %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
