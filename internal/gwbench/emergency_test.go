package gwbench

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplaceEmergencySection: appended with its markers when missing,
// replaced in place afterwards, the gateway section and prose untouched.
func TestReplaceEmergencySection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	head := "# Benchmarks\n\n" + BeginMarker + "\ngateway\n" + EndMarker + "\n"
	if err := os.WriteFile(p, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceEmergencySection(p, "one\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(must(os.ReadFile(p)), "\nafter\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceEmergencySection(p, "two"); err != nil {
		t.Fatal(err)
	}
	want := head + "\n" + EmergencyBeginMarker + "\ntwo\n" + EmergencyEndMarker + "\n\nafter\n"
	if got := string(must(os.ReadFile(p))); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if err := os.WriteFile(p, []byte(EmergencyEndMarker+"\n"+EmergencyBeginMarker), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceEmergencySection(p, "x"); !errors.Is(err, ErrNoMarkers) {
		t.Fatalf("markers out of order: %v", err)
	}
}

// TestEmergencyReportSaysScaled: the rendered section names the command,
// the measured time and the 10,000 figure as scaled.
func TestEmergencyReportSaysScaled(t *testing.T) {
	e := Emergency{Sessions: 9000, Seconds: 1.8, SessionsPerSec: 5000, ScaledSeconds: 2, State: "rolled_back", OnBlue: 9000}
	e.Config.defaults()
	var b strings.Builder
	EmergencyReport(&b, e, "bash scripts/bench-emergency.sh", "test machine", nil)
	for _, s := range []string{"bash scripts/bench-emergency.sh", "**1.800 s**", "scaled to 10,000 sessions (linear, not measured)", "**2.000 s**"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}
}

// TestRunEmergencyValidates: bad configurations fail before any dial.
func TestRunEmergencyValidates(t *testing.T) {
	for _, c := range []EmergencyConfig{
		{},
		{Gateway: "127.0.0.1:1", AdminURL: "http://127.0.0.1:1", PublishURL: "http://127.0.0.1:1/p", Sessions: 10, Channels: 20},
		{Gateway: "127.0.0.1:1", AdminURL: "http://127.0.0.1:1", PublishURL: "http://127.0.0.1:1/p", PerSessionRate: -1},
	} {
		if _, err := RunEmergency(context.Background(), c, io.Discard); err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("%+v: %v, want a configuration error", c, err)
		}
	}
}
