package config

import (
	"errors"
	"strings"
	"testing"
)

// TestFractionForWholeNumberRefused: a fraction given for an integer field
// is a value of the wrong type, refused with its field and line
// (docs/config.md, "Strict decoding"). yaml.v3 alone truncates it: 0.5
// became 0 and then the default (256 moves at once for "concurrency:
// 0.5"), and -0.5 extensions became the default 3 rather than none.
func TestFractionForWholeNumberRefused(t *testing.T) {
	for _, tc := range []struct{ path, yml string }{
		{"handover.concurrency", minimal + "handover:\n  concurrency: 0.5\n"},
		{"rollout.max_extensions", minimal + "rollout:\n  max_extensions: -0.5\n"},
		{"edge.outbound_queue.messages", minimal + "edge:\n  outbound_queue: {messages: 10.9}\n"},
		{"rollout.alerts.retries", minimal + "rollout:\n  alerts:\n    retries: 2.5\n"},
		// Through an alias, too.
		{"rollout.min_sessions", minimal + "rollout:\n  thresholds: {max_error_rate: &f 0.5}\n  min_sessions: *f\n"},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: want a FieldError naming it, got %v", tc.path, err)
			continue
		}
		if want := strings.Count(strings.TrimRight(tc.yml, "\n"), "\n") + 1; fe.Line != want || !strings.Contains(fe.Msg, "whole number") {
			t.Errorf("%s: %v, want line %d saying a whole number is needed", tc.path, err, want)
		}
	}
	// A whole number written as a float is still that number.
	if c := mustParse(t, minimal+"edge:\n  max_message_bytes: 1e6\n  outbound_queue: {bytes: 4.0e6}\n"); c.Edge.MaxMessageBytes != 1_000_000 || c.Edge.OutboundQueue.Bytes != 4_000_000 {
		t.Errorf("1e6 read as %d, 4.0e6 as %d", c.Edge.MaxMessageBytes, c.Edge.OutboundQueue.Bytes)
	}
}
