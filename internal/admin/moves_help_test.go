package admin

import (
	"regexp"
	"testing"
)

// TestMovesHelpCountsRetries: baton_moves_total counts the moves of the
// gateway's retries of misplaced sessions too (baton_moves_retried_total
// says so, as do docs/api.md and gateway.MoveCounts), so its HELP, what
// an operator reads in Grafana or promtool, must not say it counts only
// the moves weight changes caused.
func TestMovesHelpCountsRetries(t *testing.T) {
	h := newHarness(t, nil)
	code, body := h.do("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	help := regexp.MustCompile(`(?m)^# HELP baton_moves_total (.*)$`).FindStringSubmatch(body)
	retried := regexp.MustCompile(`(?m)^# HELP baton_moves_retried_total .*counted in moves_total too`).MatchString(body)
	if help == nil || !retried {
		t.Fatalf("HELP lines missing: moves_total %v, retried says counted in it %v", help, retried)
	}
	if !regexp.MustCompile(`retr(y|ies)`).MatchString(help[1]) {
		t.Errorf("HELP baton_moves_total %q does not say it counts the retries' moves that baton_moves_retried_total says it counts", help[1])
	}
}
