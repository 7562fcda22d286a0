package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/legacyclient"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestWeightTimeoutSaysWhatStands: `baton weight set` and `baton weight
// prepare` cut off by their --timeout (a green that accepts TCP and never
// answers the WebSocket upgrade keeps the gateway's move, or dial, going)
// name the flag and its value rather than only Go's "context deadline
// exceeded", and say what the gateway keeps of a change whose caller went
// away (docs/api.md): the weight stays applied, the moves already made
// stand, the others are not made; the connections already dialed stay
// prepared.
func TestWeightTimeoutSaysWhatStands(t *testing.T) {
	ctx, adminURL := gatewayWithMuteGreen(t)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"weight", "set", "100", "--timeout", "300ms"}, []string{
			"no answer from the admin API within --timeout 300ms",
			"the weight stays applied", "the moves already made stand", "(under way or not started yet) are not made",
		}},
		{[]string{"weight", "prepare", "100", "--timeout", "300ms"}, []string{
			"no answer from the admin API within --timeout 300ms",
			"connections already dialed stay prepared",
		}},
	} {
		var stdout, stderr bytes.Buffer
		code := execute(ctx, append(tc.args, "--admin", adminURL, "--token", cliToken), &stdout, &stderr)
		msg := stderr.String()
		for _, w := range tc.want {
			if code != 1 || !strings.Contains(msg, w) {
				t.Errorf("%v against a change slower than its timeout: exit %d, stderr %q; want exit 1 and %q", tc.args, code, msg, w)
			}
		}
	}

	// What the message says of the weight holds.
	if st := adminStatus(ctx, t, adminURL); st.Weight != 100 || st.Sessions.Blue != 1 {
		t.Errorf("status after the cut-off weight set: %+v, want weight 100 and the session still on blue", st)
	}
}

// gatewayWithMuteGreen runs `baton gateway` with blue the reference legacy
// service and green a backend that never answers the upgrade, and one
// client, alice, subscribed on blue: a move of hers lasts until its
// caller gives up. It returns the test's context and the admin URL.
func gatewayWithMuteGreen(t *testing.T) (context.Context, string) {
	t.Helper()
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	blue := backendtest.Legacy(t, b)
	green := muteBackend(t)
	edge, adminURL := runGateway(t, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: %q, token: %s}
backends:
  blue: {url: %q, protocol: legacy}
  green: {url: %q, protocol: legacy, dial_timeout: 1m}
handover: {timeout: 1m}
health: {probe: {disabled: true}}
rollout: {store: {kind: memory}}
log: {level: error}
`, testenv.FreeAddr(t), cliToken, blue.URL, green))

	ctx := testenv.Context(t, 30*time.Second)
	c, err := legacyclient.Dial(ctx, "ws://"+edge+"/ws?user=alice", legacyclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Subscribe(ctx, "news", nil); err != nil {
		t.Fatal(err)
	}
	return ctx, adminURL
}

// adminStatus reads GET /api/v1/status.
func adminStatus(ctx context.Context, t *testing.T, adminURL string) admin.Status {
	t.Helper()
	var st admin.Status
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+cliToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// muteBackend is a backend URL that accepts connections and never answers
// on them: a dial to it lasts until its caller gives up.
func muteBackend(t *testing.T) string {
	t.Helper()
	return "ws://" + testenv.MuteListener(t) + "/ws"
}

// runGateway runs `baton gateway` with the config body until the test
// ends and returns its edge address and admin URL.
func runGateway(t *testing.T, config string) (edge, adminURL string) {
	t.Helper()
	edge, adminURL, stop := startGateway(t, config)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	return edge, adminURL
}

// startGateway starts `baton gateway` with the config body and returns
// its edge address, its admin URL and stop, which cancels the command and
// returns what it returned (an error if it did not stop within 30 s); a
// test that ends first stops it too.
func startGateway(t *testing.T, config string) (edge, adminURL string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	root := newRoot()
	root.SetArgs([]string{"gateway", "--config", writeConfig(t, config)})
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.CloseWithError(errors.New("gateway ended"))
		done <- err
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("gateway did not stop within 30s")
		}
	})
	t.Cleanup(func() { _ = stop() }) // in case the test ends first
	urls := map[string]string{}
	line := regexp.MustCompile(`^(\w+) listening on http://(\S+)$`)
	sc := bufio.NewScanner(pr)
	for len(urls) < 2 && sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			urls[m[1]] = m[2]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if len(urls) < 2 {
		t.Fatalf("gateway printed %v, then: %v", urls, stop())
	}
	return urls["edge"], "http://" + urls["admin"], stop
}

// TestAdminCallLimitNamed: a call cut off by the CLI's own limit on an
// admin request (the rollout commands', which no flag sets) names it too.
func TestAdminCallLimitNamed(t *testing.T) {
	c := &adminClient{base: "http" + strings.TrimPrefix(muteBackend(t), "ws"), token: cliToken, hc: &http.Client{}}
	ctx, cancel := withLimit(context.Background(), "", 200*time.Millisecond)
	defer cancel()
	var st admin.RolloutStatus
	_, err := c.call(ctx, http.MethodPost, "/api/v1/rollout/pause", nil, &st)
	var na *noAnswerError
	if !errors.As(err, &na) || !na.sent || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "no answer from the admin API within 200ms, the CLI's limit on an admin API request (POST http://") {
		t.Errorf("call cut off by the CLI's limit: %v", err)
	}
}
