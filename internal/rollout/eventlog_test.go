package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// TestVerdictReasonsLogReadably: the reasons of a verdict each end with
// a number and the next begins with a check's name, so the text log
// must separate them ("…, need 200; green_p95: …"), not print Go's
// "[… need 200 green_p95: …]"; the JSON log keeps them a list.
func TestVerdictReasonsLogReadably(t *testing.T) {
	reasons := []string{"green_error_rate: green has 121 operations, need 200", "green_p95: green has 107 latency samples, need 200"}
	logged := func(h func(*bytes.Buffer) slog.Handler) string {
		var buf bytes.Buffer
		c := &Controller{log: slog.New(h(&buf)), ctx: context.Background()}
		c.logEvent(Event{Kind: EventStepExtended, Verdict: &Verdict{Outcome: Inconclusive, Reasons: reasons}})
		return buf.String()
	}

	text := logged(func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) })
	if want := `verdict.reasons="` + strings.Join(reasons, "; ") + `"`; !strings.Contains(text, want) {
		t.Errorf("text log:\n%s\nlacks %s", text, want)
	}

	var line struct {
		Verdict struct{ Reasons []string } `json:"verdict"`
	}
	js := logged(func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) })
	if err := json.Unmarshal([]byte(js), &line); err != nil || !slices.Equal(line.Verdict.Reasons, reasons) {
		t.Errorf("JSON log %s: reasons %q (%v), want the list %q", js, line.Verdict.Reasons, err, reasons)
	}
}
