package config

import (
	"errors"
	"strings"
	"testing"
)

// TestMissingProtocolSaysRequired: a backend without a protocol is told
// the field is required and what it takes, not that "" is neither.
func TestMissingProtocolSaysRequired(t *testing.T) {
	yml := strings.Replace(minimal, ",          protocol: legacy", "", 1)
	_, err := Parse([]byte(yml))
	want := "line 9: backends.blue.protocol: required (legacy or socketio)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestWrongTypeSaysWhatTheFieldTakes: a scalar of the wrong type names
// the field, its line, what the field takes and the value given, in
// words rather than yaml.v3's "cannot unmarshal !!str `abc` into float64".
func TestWrongTypeSaysWhatTheFieldTakes(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{strings.Replace(minimal, "weight: 0", "weight: abc", 1), `line 12: routing.weight: want a number, got "abc"`},
		{strings.Replace(minimal, "weight: 0", "weight: true", 1), `line 12: routing.weight: want a number, got true`},
		{minimal + "handover:\n  concurrency: lots\n", `line 15: handover.concurrency: want a whole number, got "lots"`},
		{minimal + "handover:\n  timeout: 5\n", `line 15: handover.timeout: want a duration such as "500ms" or "30s", got 5`},
		{minimal + "handover:\n  timeout: five seconds\n", `line 15: handover.timeout: want a duration such as "500ms" or "30s", got "five seconds"`},
		{minimal + "rollout:\n  prepare_next: sometimes\n", `line 15: rollout.prepare_next: want true or false, got "sometimes"`},
		{minimal + "rollout:\n  steps: 50\n", `line 15: rollout.steps: want a list, got 50`},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}

// TestTabIndentationSaysSpaces: a tab in the indentation is reported on
// its line with the hint that YAML indents with spaces; yaml.v3 alone
// says "found character that cannot start any token", without a line
// when the tab is on the first.
func TestTabIndentationSaysSpaces(t *testing.T) {
	for _, tc := range []struct {
		yml  string
		line int
	}{
		{strings.Replace(minimal, "admin:\n  listen", "admin:\n\tlisten", 1), 4},
		{strings.Replace(minimal, "  token: change-me", "\ttoken: change-me", 1), 5},
		{strings.Replace(minimal, "  weight: 0", "\tweight: 0", 1), 12},
		{"\tlisten: 127.0.0.1:8080\n", 1},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Line != tc.line || !strings.Contains(err.Error(), "YAML indents with spaces") {
			t.Errorf("tab on line %d: got %v, want that line and the hint that YAML indents with spaces", tc.line, err)
		}
	}
}

// TestEmptyFileSaysSo: an empty file (or one of comments only) is said to
// be empty, followed by the fields required, rather than five problems
// without lines as if fields were set wrong.
func TestEmptyFileSaysSo(t *testing.T) {
	for _, yml := range []string{"", "\n\n", "# to do\n"} {
		_, err := Parse([]byte(yml))
		if err == nil || !strings.HasPrefix(err.Error(), "empty configuration; required:\n") {
			t.Errorf("%q: got %v, want it said empty first", yml, err)
			continue
		}
		for _, path := range []string{"admin.token", "backends.blue.protocol", "backends.blue.url", "backends.green.protocol", "backends.green.url"} {
			if !hasField(err, path) {
				t.Errorf("%q: %s not named in %v", yml, path, err)
			}
		}
	}
}

// TestBadEdgeMessageLimitIsReportedOnce: a backend's max_message_bytes
// left out takes edge.max_message_bytes; a bad edge value is reported on
// the edge's field alone, not also on the two backends' lines, where the
// file sets nothing wrong.
func TestBadEdgeMessageLimitIsReportedOnce(t *testing.T) {
	_, err := Parse([]byte(minimal + "edge:\n  max_message_bytes: -5\n"))
	want := "line 15: edge.max_message_bytes: must be positive, got -5"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	// A backend's own bad value is still its own problem.
	_, err = Parse([]byte(strings.Replace(minimal, "protocol: legacy", "protocol: legacy, max_message_bytes: -1", 1) + "edge:\n  max_message_bytes: -5\n"))
	if !hasField(err, "backends.blue.max_message_bytes") || !hasField(err, "edge.max_message_bytes") || hasField(err, "backends.green.max_message_bytes") {
		t.Errorf("blue's own -1 and edge's -5: got %v", err)
	}
}

// TestRelativeBackendURLShowsItsProtocolsForm: a backend URL without a
// host is answered with an example of the form that backend's protocol
// takes: a socketio backend is shown an http URL with the Engine.IO
// path, not the ws:// one of a legacy backend.
func TestRelativeBackendURLShowsItsProtocolsForm(t *testing.T) {
	for _, tc := range []struct{ from, to, want string }{
		{"ws://127.0.0.1:8081/ws", "127.0.0.1:8081/ws",
			`line 9: backends.blue.url: must be an absolute URL like ws://host:port/path, got "127.0.0.1:8081/ws"`},
		{"http://127.0.0.1:8082/socket.io/", "127.0.0.1:8082/socket.io/",
			`line 10: backends.green.url: must be an absolute URL like http://host:port/socket.io/, got "127.0.0.1:8082/socket.io/"`},
	} {
		_, err := Parse([]byte(strings.Replace(minimal, tc.from, tc.to, 1)))
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
