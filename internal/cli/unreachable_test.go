package cli

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// TestUnreachableAdminSaysWhere: a one-shot command whose --admin URL has
// no gateway listening (the default 127.0.0.1:9090 on a machine where the
// admin API listens elsewhere) fails with exit 1 and a message on stderr
// that says the admin API could not be reached at that URL and points at
// --admin, as a refused token points at --token, besides Go's error.
func TestUnreachableAdminSaysWhere(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	for _, args := range [][]string{
		{"rollout", "status"},
		{"rollout", "pause"},
		{"weight", "set", "10"},
	} {
		var stdout, stderr bytes.Buffer
		code := execute(context.Background(), append(args, "--admin", url, "--token", cliToken), &stdout, &stderr)
		msg := stderr.String()
		if code != 1 || stdout.Len() != 0 || !strings.Contains(msg, "cannot reach the admin API at "+url) ||
			!strings.Contains(msg, "--admin") || !strings.Contains(msg, "connection refused") {
			t.Errorf("%v on a closed port: exit %d, stdout %q, stderr %q; want exit 1 and where the admin API was looked for, --admin and the refusal on stderr",
				args, code, stdout.String(), msg)
		}
	}
}
