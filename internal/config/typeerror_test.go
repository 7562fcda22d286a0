package config

import (
	"errors"
	"strings"
	"testing"
)

// TestCollectionOfWrongTypeNamesItsField: a list or a mapping where the
// field takes something else is an error naming that field, not its first
// item or key (log.level[0], edge.origin_patterns.host: fields that do
// not exist), on the line yaml.v3 gives.
func TestCollectionOfWrongTypeNamesItsField(t *testing.T) {
	for _, tc := range []struct {
		yml, path string
		line      int
	}{
		{minimal + "log:\n  level:\n    - debug\n", "log.level", 16},
		{minimal + "log: {level: [debug]}\n", "log.level", 14},
		{minimal + "edge:\n  origin_patterns:\n    host: x\n", "edge.origin_patterns", 16},
		{minimal + "rollout:\n  steps: {a: 1}\n", "rollout.steps", 15},
		{strings.Replace(minimal, "  token: change-me\n", "  token: {a: 1}\n", 1), "admin.token", 5},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || fe.Line != tc.line || !strings.Contains(fe.Msg, "cannot unmarshal") {
			t.Errorf("want line %d naming %s, got %v", tc.line, tc.path, err)
		}
	}
}

// TestUnknownFieldNextToAKnownOneOfTheSameName: an unknown key on a line
// that also holds a known field of the same name deeper down is named by
// its own path, not the known field's ("rollout.thresholds.max_p95:
// unknown field; known here: …, max_p95, …").
func TestUnknownFieldNextToAKnownOneOfTheSameName(t *testing.T) {
	_, err := Parse([]byte(minimal + "rollout: {max_p95: 2s, thresholds: {max_p95: 1s}}\n"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "rollout.max_p95" || fe.Line != 14 || !strings.Contains(fe.Msg, "unknown field") {
		t.Errorf("want line 14: rollout.max_p95: unknown field, got %v", err)
	}
}

// TestDuplicateKeyNamesTheKey: a key given twice in one mapping is named
// by its own path, on the line of its second occurrence, not by a field
// inside its value (rollout.hold for a second `rollout: {hold: 1s}`), nor
// by nothing when that value holds several fields on the line.
func TestDuplicateKeyNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		yml, path string
		line      int
	}{
		{minimal + "rollout: {hold: 1s}\nrollout: {hold: 2s}\n", "rollout", 15},
		{minimal + "rollout: {hold: 1s}\nrollout: {hold: 2s, steps: [50, 100]}\n", "rollout", 15},
		{minimal + "admin: {listen: 127.0.0.1:9091}\n", "admin", 14},
		{minimal + "rollout:\n  hold: 1s\n  hold: 2s\n", "rollout.hold", 16},
	} {
		_, err := Parse([]byte(tc.yml))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Path != tc.path || fe.Line != tc.line || !strings.Contains(fe.Msg, "already defined") {
			t.Errorf("want line %d naming %s, got %v", tc.line, tc.path, err)
		}
	}
}

// TestWrongTypeAmongSiblingsOnOneLine: a flow mapping puts several fields
// on one line; a scalar of the wrong type among them is still named, found
// by its value, and said what the field takes.
func TestWrongTypeAmongSiblingsOnOneLine(t *testing.T) {
	for _, tc := range []struct{ yml, want string }{
		{minimal + "rollout: {hold: 30, store: {kind: memory}}\n",
			`line 14: rollout.hold: want a duration such as "500ms" or "30s", got 30`},
		{minimal + "rollout: {store: {kind: memory}, steps: 50}\n",
			`line 14: rollout.steps: want a list, got 50`},
		{minimal + "handover: {timeout: 5s, concurrency: lots}\n",
			`line 14: handover.concurrency: want a whole number, got "lots"`},
	} {
		_, err := Parse([]byte(tc.yml))
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
