package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpForUnknownCommandFails: `baton help` naming a command that does
// not exist (`baton help rolout`, `baton help rollout emergncy`) is a
// failure like the mistyped command itself: exit 1 and the error on
// stderr, not the root's usage on stdout and exit 0, which a script takes
// for help found.
func TestHelpForUnknownCommandFails(t *testing.T) {
	for _, args := range [][]string{
		{"help", "rolout"},
		{"help", "rollout", "emergncy"},
	} {
		var stdout, stderr bytes.Buffer
		code := execute(context.Background(), args, &stdout, &stderr)
		if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "unknown help topic") {
			t.Errorf("baton %s: exit %d, stdout %.80q, stderr %.200q; want exit 1, nothing on stdout and the unknown topic on stderr",
				strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
	}
	// Help for a real command still works and exits 0.
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"help", "rollout", "status"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "baton rollout status") {
		t.Errorf("baton help rollout status: exit %d, stdout %.200q, stderr %.200q", code, stdout.String(), stderr.String())
	}
}

// TestCompletionForUnknownShellFails: `baton completion` with a shell it
// does not know (`source <(baton completion zhs)`) fails on stderr like
// every other command group, instead of printing the group's help on
// stdout and exiting 0, which a shell would source without a word.
func TestCompletionForUnknownShellFails(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := execute(context.Background(), []string{"completion", "zhs"}, &stdout, &stderr)
	if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), `unknown command "zhs" for "baton completion"`) || !strings.Contains(stderr.String(), "\tzsh\n") {
		t.Errorf("baton completion zhs: exit %d, stdout %.80q, stderr %.200q; want exit 1, nothing on stdout, the unknown command and zsh suggested on stderr",
			code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	if code := execute(context.Background(), []string{"completion", "bash"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "bash completion") {
		t.Errorf("baton completion bash: exit %d, %.100q", code, stdout.String())
	}
}
