package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
)

func init() { register(newRolloutCmd) }

// TokenEnv names the environment variable the rollout commands read the
// admin token from when --token is not given.
const TokenEnv = "BATON_ADMIN_TOKEN"

// requestTimeout bounds every admin call but the event stream.
const requestTimeout = 30 * time.Second

// maxAnswer bounds an admin API answer the CLI reads.
const maxAnswer = 4 << 20

// adminClient calls the admin API.
type adminClient struct {
	base  string
	token string
	hc    *http.Client
}

// rolloutFlags are the flags every rollout subcommand shares.
type rolloutFlags struct {
	admin, token string
	json         bool
}

func (f *rolloutFlags) client() (*adminClient, error) {
	// Trimmed, as the API trims the token a request presents (and a
	// gateway refuses one configured with whitespace around it): a token
	// read with its trailing newline would not even make a valid header.
	tok := strings.TrimSpace(f.token)
	if tok == "" {
		tok = strings.TrimSpace(os.Getenv(TokenEnv))
	}
	if tok == "" {
		return nil, fmt.Errorf("no admin token: pass --token or set %s", TokenEnv)
	}
	base := strings.TrimRight(f.admin, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("--admin %q: want a URL such as http://127.0.0.1:9090", f.admin)
	}
	// No client-wide timeout: the event stream is long-lived; calls set
	// their own deadline.
	return &adminClient{base: base, token: tok, hc: &http.Client{}}, nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status int
	admin.ErrorBody
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("admin API answered %d %s: %s", e.Status, http.StatusText(e.Status), e.ErrorBody.Error)
	if e.State != "" {
		msg += fmt.Sprintf(" (rollout state: %s)", e.State)
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (check --token or " + TokenEnv + ")"
	}
	if e.HolderAdmin != "" {
		// A follower refused it: the holder's own admin API takes it.
		msg += "; send it to the holder with --admin " + e.HolderAdmin
	}
	return msg
}

// request sends one request; a non-2xx answer becomes an *apiError.
func (c *adminClient) request(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer func() { _ = resp.Body.Close() }()
	ae := &apiError{Status: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if json.Unmarshal(raw, &ae.ErrorBody) != nil || ae.ErrorBody.Error == "" {
		ae.ErrorBody.Error = strings.TrimSpace(string(raw))
	}
	return nil, ae
}

// callLimit is the cause of an admin call's deadline (withLimit), named
// when it cuts the call off: Go's "context deadline exceeded" says
// neither which limit nor how long.
type callLimit struct {
	flag string // empty for requestTimeout, which no flag sets
	d    time.Duration
}

func (l *callLimit) String() string {
	if l.flag == "" {
		return fmt.Sprintf("%v, the CLI's limit on an admin API request", l.d)
	}
	return fmt.Sprintf("%s %v", l.flag, l.d)
}

func (l *callLimit) Error() string { return "no answer within " + l.String() }

// Unwrap keeps the error a deadline for errors.Is.
func (l *callLimit) Unwrap() error { return context.DeadlineExceeded }

// withLimit bounds ctx by d, which flag sets ("" for none).
func withLimit(ctx context.Context, flag string, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, d, &callLimit{flag: flag, d: d})
}

// noAnswerError is an admin call cut off by its limit before the answer.
type noAnswerError struct {
	limit       *callLimit
	method, url string
	// sent is true once the whole request was written: the gateway has
	// it and acts on it, whatever the call's end.
	sent bool
	err  error
}

func (e *noAnswerError) Error() string {
	return fmt.Sprintf("no answer from the admin API within %s (%s %s)", e.limit.String(), e.method, e.url)
}

func (e *noAnswerError) Unwrap() error { return e.err }

// call sends a request and decodes the JSON answer into out; it also
// returns the raw answer for --json. Without a deadline in ctx it waits
// requestTimeout at most. A deadline set by withLimit that cuts it off
// ends it with a *noAnswerError.
func (c *adminClient) call(ctx context.Context, method, path string, body []byte, out any) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = withLimit(ctx, "", requestTimeout)
		defer cancel()
	}
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { sent.Store(i.Err == nil) },
	})
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		if lim := (*callLimit)(nil); ctx.Err() != nil && errors.As(context.Cause(ctx), &lim) {
			return nil, &noAnswerError{limit: lim, method: method, url: c.base + path, sent: sent.Load(), err: err}
		}
		if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "dial" {
			// Go's error names the URL, not the flag that chose it.
			err = fmt.Errorf("cannot reach the admin API at %s (is the gateway's admin.listen there? --admin gives its URL): %w", c.base, err)
		}
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("admin API: unreadable answer: %w", err)
	}
	return raw, nil
}

func newRolloutCmd() *cobra.Command {
	f := &rolloutFlags{}
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Drive a rollout through the gateway's admin API",
		Long: "rollout starts, follows and steers the gated blue→green rollout of a running\n" +
			"gateway (see docs/api.md). The token comes from --token or " + TokenEnv + ".\n" +
			"A command refused in the rollout's current state exits non-zero and prints the state;\n" +
			"one refused by a gateway that follows another's rollout (a shared Redis store) also\n" +
			"says which --admin reaches the gateway that runs it.",
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.admin, "admin", "http://127.0.0.1:9090", "admin API base URL")
	pf.StringVar(&f.token, "token", "", "admin bearer token (default $"+TokenEnv+")")
	pf.BoolVar(&f.json, "json", false, "print the API's JSON answer (watch: its events as JSON Lines)")

	cmd.AddCommand(newRolloutStartCmd(f), newRolloutStatusCmd(f), newRolloutWatchCmd(f))
	for _, c := range []struct{ use, path, short string }{
		{"pause", "pause", "Stop the clock: no more moves or gates until resume"},
		{"resume", "resume", "Continue a paused rollout where it stood"},
		{"promote", "promote", "Skip the remaining steps: move everyone to green, no more gates"},
		{"rollback", "rollback", "Move everyone back to blue at the plan's pace"},
		{"emergency", "emergency-rollback", "Move every session to blue as fast as possible"},
		{"abort", "abort", "Stop the rollout where it stands; nobody moves"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: c.use, Short: c.short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return runRolloutCommand(cmd.Context(), f, c.path, nil, cmd.OutOrStdout())
			},
		})
	}
	return cmd
}

// runRolloutCommand posts one command and prints the resulting status.
func runRolloutCommand(ctx context.Context, f *rolloutFlags, path string, body []byte, out io.Writer) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	var st admin.RolloutStatus
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/rollout/"+path, body, &st)
	if err != nil {
		return err
	}
	if f.json {
		_, err = out.Write(raw)
		return err
	}
	_, err = fmt.Fprintln(out, summaryLine(st))
	return err
}

func newRolloutStartCmd(f *rolloutFlags) *cobra.Command {
	var (
		steps                                 []float64
		hold, maxP95, maxP99                  time.Duration
		minSessions, minSamples, maxExt, pace int
		maxErrorRate                          float64
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a rollout with the configured plan, changed by the flags given",
		Long: "start begins a rollout. Flags override the gateway's configured plan for this\n" +
			"rollout only; flags not given keep the configured values. The server checks the\n" +
			"plan and names a bad field.\n\n" +
			"A rollout only moves users toward green: a start whose first step is below the\n" +
			"weight the gateway stands at (after a completed rollout, 100) is refused (409),\n" +
			"saying how many sessions that step would move back to blue. Set the weight first\n" +
			"(baton weight set 0), use rollout rollback, give --steps from the current weight\n" +
			"up, or pass --allow-decrease to start the plan anyway.",
		Example: "  baton rollout start --steps 10,25,50,100 --hold 30s --max-p95 400ms\n" +
			"  baton weight set 0 && baton rollout start   # after a completed rollout",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			var o rollout.Override
			if fl.Changed("steps") {
				o.Steps = steps
			}
			if fl.Changed("hold") {
				o.Hold = ptr(rollout.Duration(hold))
			}
			for name, dst := range map[string]**int{"min-sessions": &o.MinSessions, "min-samples": &o.MinSamples, "max-extensions": &o.MaxExtensions, "moves-per-second": &o.MovesPerSecond} {
				if fl.Changed(name) {
					v, _ := fl.GetInt(name)
					*dst = &v
				}
			}
			var t rollout.ThresholdsOverride
			if fl.Changed("max-error-rate") {
				t.MaxErrorRate = &maxErrorRate
			}
			if fl.Changed("max-p95") {
				t.MaxP95 = ptr(rollout.Duration(maxP95))
			}
			if fl.Changed("max-p99") {
				t.MaxP99 = ptr(rollout.Duration(maxP99))
			}
			if t != (rollout.ThresholdsOverride{}) {
				o.Thresholds = &t
			}
			if fl.Changed("prepare-next") {
				v, _ := fl.GetBool("prepare-next")
				o.PrepareNext = &v
			}
			o.AllowDecrease, _ = fl.GetBool("allow-decrease")
			body, err := json.Marshal(o)
			if err != nil {
				return err
			}
			return runRolloutCommand(cmd.Context(), f, "start", body, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.Float64SliceVar(&steps, "steps", nil, "green `weights` in percent, increasing, the last 100 (e.g. 10,25,50,100; default: the configured steps)")
	// Not given means the configured plan's steps, which only the gateway
	// knows: no "(default [])" in the help.
	fl.Lookup("steps").DefValue = ""
	fl.DurationVar(&hold, "hold", 0, "hold per step before its gate (e.g. 30s; 0: the configured hold)")
	fl.IntVar(&minSessions, "min-sessions", 0, "sessions green must hold before a gate may pass (0: the configured value)")
	fl.IntVar(&minSamples, "min-samples", 0, "operations and latency samples each backend needs before a gate may pass (0: the configured value)")
	fl.IntVar(&maxExt, "max-extensions", 0, "extra holds an inconclusive step gets (-1: none; 0: the configured value)")
	fl.IntVar(&pace, "moves-per-second", 0, "move pacing (0: the gateway's own)")
	fl.Float64Var(&maxErrorRate, "max-error-rate", 0, "green error-rate limit as a fraction (0.01 is 1%; 0: the configured limit)")
	fl.DurationVar(&maxP95, "max-p95", 0, "green P95 latency limit (0: the configured limit)")
	fl.DurationVar(&maxP99, "max-p99", 0, "green P99 latency limit (0: the configured limit, which 0 leaves unchecked)")
	fl.Bool("prepare-next", false, "dial the next step's green connections during each hold (--prepare-next=false turns off a configured true)")
	fl.Bool("allow-decrease", false, "start even when the first step is below the current weight, moving sessions back to blue (refused without it)")
	return cmd
}

func ptr[T any](v T) *T { return &v }

func newRolloutStatusCmd(f *rolloutFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the rollout: state, step, weight, step timings and the last verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var st admin.RolloutStatus
			raw, err := c.call(cmd.Context(), http.MethodGet, "/api/v1/rollout", nil, &st)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.json {
				_, err = out.Write(raw)
				return err
			}
			_, err = io.WriteString(out, statusText(st))
			return err
		},
	}
}

// summaryLine is one line about a status.
func summaryLine(st admin.RolloutStatus) string {
	var b strings.Builder
	b.WriteString("rollout")
	if st.ID != "" {
		b.WriteString(" " + st.ID)
	}
	b.WriteString(": " + st.State)
	if st.Steps > 0 {
		fmt.Fprintf(&b, ", step %d/%d", st.Step, st.Steps)
	}
	fmt.Fprintf(&b, ", weight %s%%", pct(st.Weight))
	if st.Reason != "" {
		b.WriteString(" (" + st.Reason + ")")
	}
	return b.String()
}

// statusText is the full human form of a status.
func statusText(st admin.RolloutStatus) string {
	var b strings.Builder
	b.WriteString(summaryLine(st) + "\n")
	if st.Plan != nil {
		steps := make([]string, len(st.Plan.Steps))
		for i, s := range st.Plan.Steps {
			steps[i] = pct(s) + "%"
		}
		fmt.Fprintf(&b, "plan:      steps %s, hold %v, max error rate %s%%, max p95 %v\n",
			strings.Join(steps, " → "), st.Plan.Hold, pct(st.Plan.Thresholds.MaxErrorRate*100), st.Plan.Thresholds.MaxP95)
	}
	if !st.StartedAt.IsZero() {
		fmt.Fprintf(&b, "started:   %s (%v)\n", st.StartedAt.Format(time.RFC3339), (time.Duration(st.ElapsedMs) * time.Millisecond).Round(time.Second))
	}
	if !st.EndedAt.IsZero() {
		fmt.Fprintf(&b, "ended:     %s\n", st.EndedAt.Format(time.RFC3339))
	}
	width := 0 // of the widest weight, so that the step rows' columns line up
	for _, h := range st.History {
		width = max(width, len(pct(h.Weight)))
	}
	for _, h := range st.History {
		outcome := h.Outcome
		switch {
		case outcome != "":
		case !h.EndedAt.IsZero(): // left by a command (rollback, abort, promote) before its gate
			outcome = "stopped"
		case st.State == "paused":
			outcome = "paused"
		default:
			outcome = "running"
		}
		fmt.Fprintf(&b, "%-11s%*s%% %-12s moved %d, failed %d, moves took %v\n",
			fmt.Sprintf("step %d:", h.Step), width, pct(h.Weight), outcome, h.Moved, h.Failed, time.Duration(h.MovesMs)*time.Millisecond)
	}
	if v := st.LastVerdict; v != nil {
		fmt.Fprintf(&b, "verdict:   step %d %s — green err %s%% p95 %v p99 %v (n=%d); blue err %s%% p95 %v p99 %v (n=%d)\n",
			v.Step, v.Outcome, pct(v.Green.ErrorRate*100), v.Green.P95, v.Green.P99, v.Green.Total,
			pct(v.Blue.ErrorRate*100), v.Blue.P95, v.Blue.P99, v.Blue.Total)
		for _, r := range v.Reasons {
			b.WriteString("           " + r + "\n")
		}
	}
	return b.String()
}

// pct formats a percentage to two decimals without trailing zeros (25,
// 12.5, 0.12).
func pct(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// count is n and noun, the noun plural unless n is one: "1 session",
// "0 sessions". Every noun it is given takes a plain -s.
func count[N int | int64 | uint64](n N, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// exitError ends a command with a chosen exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

var _ exitCoder = (*exitError)(nil)

// errStreamEnded is returned by watch when the event stream ends before
// the rollout does.
var errStreamEnded = errors.New("the admin API's event stream ended before the rollout did")
