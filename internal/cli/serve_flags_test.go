package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// TestServeBadFlagNamesTheFlag: a bad limit given to `baton serve` is
// refused naming the flag the user typed, not the Go field behind it
// ("DrainPeriod -1s < 0" told nobody which flag to fix).
func TestServeBadFlagNamesTheFlag(t *testing.T) {
	for _, tc := range []struct{ flag, value string }{
		{"--drain", "-1s"},
		{"--max-message-bytes", "-5"},
		{"--max-subscriptions", "-1"},
		{"--queue-messages", "-1"},
		{"--queue-bytes", "10"},
		{"--write-timeout", "-1s"},
		{"--fault-latency", "-1s"},
		{"--fault-error-rate", "2"},
		{"--history", "-1"},
	} {
		_, err := baton(context.Background(), "serve", "--legacy", "127.0.0.1:0", tc.flag, tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.flag+" "+tc.value) {
			t.Errorf("serve %s %s: err %v, want one naming %s %s", tc.flag, tc.value, err, tc.flag, tc.value)
		}
	}
}

// TestServeRefusesNegativeIdleTimeout: --idle-timeout -1s is refused by
// its flag; it used to turn the timeout off without a word (a negative
// http.Server.IdleTimeout means none), and serve ran.
func TestServeRefusesNegativeIdleTimeout(t *testing.T) {
	_, err := baton(testenv.Context(t, 10*time.Second), "serve", "--legacy", "127.0.0.1:0", "--idle-timeout", "-1s")
	if err == nil || !strings.Contains(err.Error(), "--idle-timeout -1s") {
		t.Fatalf("serve --idle-timeout -1s: err %v, want one naming --idle-timeout -1s", err)
	}
}

// TestServeHelpSaysWhatZeroMeans: where 0 is not a limit of zero (the
// services' default, or no timeout at all), serve --help says so.
func TestServeHelpSaysWhatZeroMeans(t *testing.T) {
	out, err := baton(context.Background(), "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"--drain":             "(0: the default)",
		"--max-message-bytes": "(0: the default)",
		"--max-subscriptions": "(0: the default)",
		"--queue-messages":    "(0: the default)",
		"--queue-bytes":       "(0: the default)",
		"--write-timeout":     "(0: the default)",
		"--idle-timeout":      "(0: never)",
	} {
		i := strings.Index(out, flag+" ")
		if i < 0 {
			t.Errorf("serve --help lists no %s", flag)
			continue
		}
		line, _, _ := strings.Cut(out[i:], "\n")
		if !strings.Contains(line, want) {
			t.Errorf("serve --help: %q does not say %s", line, want)
		}
	}
}
