package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// TestGatewayLogWritesDurationsAsStrings: the process log built from the
// config's log section writes a duration as "5s", in JSON as in text, at
// the top level and inside groups; JSON once wrote 5000000000 nanoseconds.
func TestGatewayLogWritesDurationsAsStrings(t *testing.T) {
	for format, want := range map[string][]string{
		"json": {`"period":"5s"`, `"drain":{"spread":"1.5s"}`, `"handover":{"took":"250ms"}`},
		"text": {`period=5s`, `drain.spread=1.5s`, `handover.took=250ms`},
	} {
		var out bytes.Buffer
		log := gatewayLogger(config.Log{Level: "info", Format: format}, &out)
		log.Info("draining", "period", 5*time.Second, slog.Group("drain", "spread", 1500*time.Millisecond))
		log.WithGroup("handover").Info("moved", "took", 250*time.Millisecond)
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("log.format %s wrote %q, want %s", format, out.String(), w)
			}
		}
	}
}
