package cli

import (
	"context"
	"strings"
	"testing"
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
