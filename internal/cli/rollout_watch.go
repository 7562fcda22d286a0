package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/rollout"
)

// Exit codes of `baton rollout watch`.
const (
	exitCompleted  = 0
	exitRolledBack = 2
	exitAborted    = 3
	exitLost       = 4 // no connection for --reconnect-for: watch gave up
)

func newRolloutWatchCmd(f *rolloutFlags) *cobra.Command {
	var (
		plain, next  bool
		reconnectFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow the rollout live until it ends; exit 0 only when it completed",
		Long: "watch follows GET /api/v1/events and shows a progress bar per step, the sessions\n" +
			"per backend, error rates and P95/P99. On a terminal it redraws in place; otherwise\n" +
			"(or with --plain) it prints a line per transition, and a status line when what that\n" +
			"line shows changes (repeated every 30s while nothing does).\n\n" +
			"A lost or refused connection (a gateway restart, a proxy's idle timeout) is\n" +
			"retried with backoff (200ms doubling to 5s); after reconnecting, watch re-reads\n" +
			"the rollout's status, so an end reached meanwhile is still reported.\n\n" +
			"It exits when the rollout ends: 0 completed, 2 rolled back, 3 aborted; 4 when no\n" +
			"connection succeeded for --reconnect-for; 130, quietly, on Ctrl-C; 1 on any other\n" +
			"error (a refused token, a rollout replaced by another while watch was\n" +
			"disconnected, or the stream ending with --reconnect-for 0). A rollout that had\n" +
			"already ended when watch started is reported at once with the same codes, saying\n" +
			"that it had ended before (so that `rollout start` then `watch` reports a rollout\n" +
			"that ended quickly); with --next, watch waits for the next rollout to start\n" +
			"instead and follows it, also across reconnections (start watch --next, then the\n" +
			"rollout). With no rollout yet (state idle) watch waits for one to start and\n" +
			"follows it.\n\n" +
			"With --json it prints one JSON object per line instead: {\"event\": name, \"id\": id,\n" +
			"\"data\": the event's data} for every event of the stream (each connection's\n" +
			"first is a status), and last, once the rollout ended, one with \"event\": \"status\"\n" +
			"and GET /api/v1/rollout's answer. The notices (reconnecting, a rollout that had\n" +
			"already ended) go to stderr.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if reconnectFor < 0 {
				return fmt.Errorf("--reconnect-for %v: want 0 (do not reconnect) or more", reconnectFor)
			}
			out := cmd.OutOrStdout()
			ui := &watchUI{out: out, notes: out, tty: !plain && isTerminal(out)}
			if f.json {
				ui.json, ui.tty, ui.notes = true, false, cmd.ErrOrStderr()
			}
			err := watchWith(cmd.Context(), f, ui, defaultReconnect(reconnectFor), next)
			if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				return &interruptedError{err: err} // Ctrl-C: not an error, nor a completion
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&plain, "plain", false, "print lines (per transition and per change) even on a terminal")
	cmd.Flags().BoolVar(&next, "next", false, "when the rollout has already ended, wait for the next one to start and follow it")
	cmd.Flags().DurationVar(&reconnectFor, "reconnect-for", 2*time.Minute,
		"give up (exit 4) after this long without a connection; 0 exits 1 on the first loss")
	return cmd
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watchModel is what watch knows of the rollout.
type watchModel struct {
	status  admin.RolloutStatus
	metrics *admin.Metrics
	recent  []string // newest transitions, for the terminal view
	dropped uint64
	// endTicks counts the metrics ticks in a row whose rollout has ended
	// (see apply).
	endTicks int
}

const recentLines = 4

// runWatch follows the rollout in the text form.
func runWatch(ctx context.Context, f *rolloutFlags, out io.Writer, tty bool, rp reconnectPolicy) error {
	return watchWith(ctx, f, &watchUI{out: out, notes: out, tty: tty}, rp, false)
}

// watchWith follows the rollout, drawn by ui (text, or JSON Lines); with
// next, a rollout found ended is passed over for the next one.
func watchWith(ctx context.Context, f *rolloutFlags, ui *watchUI, rp reconnectPolicy, next bool) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	w := &watcher{c: c, ui: ui, m: &watchModel{}, rp: rp, next: next}
	return w.run(ctx)
}

// apply updates the model with one event and reports whether the rollout
// has ended.
func (m *watchModel) apply(ev admin.StreamEvent) (ended bool, err error) {
	decode := func(v any) error {
		if err := json.Unmarshal(ev.Data, v); err != nil {
			return fmt.Errorf("admin API: unreadable %s event: %w", ev.Name, err)
		}
		return nil
	}
	switch ev.Name {
	case admin.EventStatus:
		if err := decode(&m.status); err != nil {
			return false, err
		}
		return admin.Terminal(m.status.State), nil
	case admin.EventMetrics:
		var mt admin.Metrics
		if err := decode(&mt); err != nil {
			return false, err
		}
		m.metrics = &mt
		if mt.Rollout != nil {
			last := m.status.LastVerdict
			m.status = *mt.Rollout
			if m.status.LastVerdict == nil {
				m.status.LastVerdict = last
			}
			// Covers transitions lost to a drop. But the status leads
			// the events: the tick that first shows the end mostly comes
			// just ahead of the transition that made it, which must
			// not go unprinted. So a tick ends the watch only after a
			// drop, or when the one before showed the end too.
			if !admin.Terminal(m.status.State) {
				m.endTicks = 0
				return false, nil
			}
			m.endTicks++
			return m.dropped > 0 || m.endTicks > 1, nil
		}
	case admin.EventTransition:
		var tr admin.TransitionEvent
		if err := decode(&tr); err != nil {
			return false, err
		}
		m.status.State, m.status.Step, m.status.Weight = tr.To, tr.Step, tr.Weight
		if tr.RolloutID != "" {
			// The rollout watch follows now: another than the status's
			// one when watch --next waited for it (see watcher.settle),
			// and a reconnection compares the ID.
			m.status.ID = tr.RolloutID
		}
		if tr.Kind == "step_applied" {
			m.status.Applied = true
		} else if tr.Kind == "step_started" || tr.Kind == "promoted" || tr.Kind == "rollback_started" {
			m.status.Applied = false
		}
		if tr.Verdict != nil {
			m.status.LastVerdict = tr.Verdict
		}
		m.recent = append(m.recent, transitionLine(tr))
		if len(m.recent) > recentLines {
			m.recent = m.recent[len(m.recent)-recentLines:]
		}
		return admin.Terminal(tr.To) && lastOfCommit(tr.Kind), nil
	case admin.EventDropped:
		var d admin.DroppedEvent
		if err := decode(&d); err != nil {
			return false, err
		}
		m.dropped = d.Dropped
	}
	return false, nil
}

// lastOfCommit reports whether an event of kind ends the commit that
// carries it to a terminal state. Every event of a commit carries the state
// it ends in, so the last step's verdict and step_passed already say
// completed, ahead of the rollout_completed of the same commit (and a
// promote's step_applied ahead of its own); ending on those would leave
// the rest unprinted. A state another gateway stored comes alone, as
// state_reloaded. Should the last event be lost (a drop), the metrics
// ticks show the end (see apply).
func lastOfCommit(kind string) bool {
	switch rollout.EventKind(kind) {
	case rollout.EventCompleted, rollout.EventRollbackFinished, rollout.EventAborted, rollout.EventReloaded:
		return true
	}
	return false
}

// finishWatch shows the final status (re-read, with the sessions per
// backend as the end left them) and maps the end state to the exit code.
func finishWatch(ctx context.Context, c *adminClient, m *watchModel, ui *watchUI) error {
	var st admin.RolloutStatus
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/rollout", nil, &st)
	if err == nil && st.State == m.status.State {
		m.status = st // the final numbers, reasons included
	} else {
		raw = nil
	}
	if ui.json {
		if raw == nil {
			if raw, err = json.Marshal(m.status); err != nil {
				return err
			}
		}
		// Not twice: on a rollout that had ended before watch started, the
		// stream's first event was this very status.
		if err := ui.eventOnce(admin.StreamEvent{Name: admin.EventStatus, Data: raw}); err != nil {
			return err
		}
	} else {
		// The sessions as the end left them: the last tick may predate the
		// end's moves (a rollback's). Better none than stale ones.
		var mt admin.Metrics
		if _, err := c.call(ctx, http.MethodGet, "/api/v1/metrics", nil, &mt); err == nil {
			m.metrics = &mt
		} else {
			m.metrics = nil
		}
		ui.render(m)
		ui.println(statusText(m.status))
	}
	reason := ""
	if m.status.Reason != "" {
		reason = ": " + m.status.Reason
	}
	switch m.status.State {
	case "completed":
		return nil
	case "rolled_back":
		return &exitError{code: exitRolledBack, msg: "rollout rolled back" + reason}
	default:
		return &exitError{code: exitAborted, msg: "rollout " + m.status.State + reason}
	}
}

func transitionLine(tr admin.TransitionEvent) string {
	s := fmt.Sprintf("%s %-17s %s → %s step %d weight %s%%", tr.Time.Local().Format("15:04:05"), tr.Kind, tr.From, tr.To, tr.Step, pct(tr.Weight))
	if v := tr.Verdict; v != nil {
		s += fmt.Sprintf(" verdict %s (green err %s%% p95 %v)", v.Outcome, pct(v.Green.ErrorRate*100), v.Green.P95)
	}
	if tr.Message != "" {
		s += ": " + tr.Message
	}
	return s
}

// watchUI draws the model: in place on a terminal, a line per update
// otherwise; or, with json, prints the events themselves.
type watchUI struct {
	out   io.Writer
	tty   bool
	lines int // height of the frame drawn last (terminal)
	// json prints each event as a JSON object on a line of out and
	// nothing else there; the notices go to notes.
	json  bool
	notes io.Writer
	// last is the JSON line printed last (json), and line the metrics line
	// printed last, without its time, at the tick lineAt (plain).
	last   []byte
	line   string
	lineAt time.Time
}

// plainEvery is how often the plain view repeats a metrics line that has
// not changed, so that a log shows watch alive through a long hold.
const plainEvery = 30 * time.Second

func (u *watchUI) println(s string) {
	_, _ = io.WriteString(u.out, strings.TrimRight(s, "\n")+"\n")
	u.lines = 0 // what is printed stays; the next frame starts below
}

// note tells of a lost or regained connection.
func (u *watchUI) note(s string) {
	if u.json {
		_, _ = io.WriteString(u.notes, s+"\n")
		return
	}
	u.println(s)
}

// jsonEvent is a line of watch --json.
type jsonEvent struct {
	Event string          `json:"event"`
	ID    string          `json:"id,omitempty"`
	Data  json.RawMessage `json:"data"`
}

// event prints ev with json, and nothing without.
func (u *watchUI) event(ev admin.StreamEvent) error { return u.writeEvent(ev, false) }

// eventOnce is event, but for an exact repeat of the line printed last.
func (u *watchUI) eventOnce(ev admin.StreamEvent) error { return u.writeEvent(ev, true) }

func (u *watchUI) writeEvent(ev admin.StreamEvent, once bool) error {
	if !u.json {
		return nil
	}
	b, err := json.Marshal(jsonEvent{Event: ev.Name, ID: ev.ID, Data: ev.Data})
	if err != nil {
		return fmt.Errorf("admin API: unreadable %s event: %w", ev.Name, err)
	}
	b = append(b, '\n')
	if once && bytes.Equal(b, u.last) {
		return nil
	}
	u.last = b
	_, _ = u.out.Write(b)
	return nil
}

func (u *watchUI) transition(m *watchModel) {
	if u.json {
		return
	}
	if !u.tty {
		u.println(m.recent[len(m.recent)-1])
		return
	}
	u.render(m)
}

func (u *watchUI) render(m *watchModel) {
	if u.json {
		return
	}
	if !u.tty {
		// A line when what it shows changed, or plainEvery after the last.
		if mt := m.metrics; mt != nil {
			if line := metricsLine(m); line != u.line || mt.At.Sub(u.lineAt) >= plainEvery {
				u.println(mt.At.Local().Format("15:04:05") + " " + line)
				u.line, u.lineAt = line, mt.At
			}
		}
		return
	}
	var b strings.Builder
	if u.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", u.lines) // up to the frame's top, clear below
	}
	lines := frame(m)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	_, _ = io.WriteString(u.out, b.String())
	u.lines = len(lines)
}

// metricsLine is the one-line form of a metrics tick, without its time.
func metricsLine(m *watchModel) string {
	st, mt := m.status, m.metrics
	s := st.State
	if st.Steps > 0 {
		s += fmt.Sprintf(" step %d/%d", st.Step, st.Steps)
	}
	s += fmt.Sprintf(" weight %s%%", pct(st.Weight))
	for _, name := range []string{"blue", "green"} {
		b := mt.Backends[name]
		s += fmt.Sprintf(" | %s %s err %s%% p95 %s p99 %s", name, count(b.Sessions, "session"), pct(b.ErrorRate*100), msText(b.P95Ms), msText(b.P99Ms))
	}
	return s
}

func msText(v float64) string { return pct(v) + "ms" }

// ANSI styles for the terminal view.
const (
	ansiBold  = "\x1b[1m"
	ansiGreen = "\x1b[32m"
	ansiRed   = "\x1b[31m"
	ansiYell  = "\x1b[33m"
	ansiReset = "\x1b[0m"
)

const barWidth = 30

// frame is the terminal view of the model.
func frame(m *watchModel) []string {
	st := m.status
	now := time.Now()
	if m.metrics != nil {
		now = m.metrics.At // the server's clock, which set the hold times
	}
	head := fmt.Sprintf("%sRollout %s%s  %s", ansiBold, st.ID, ansiReset, styled(st.State))
	if st.Steps > 0 {
		head += fmt.Sprintf("  step %d/%d", st.Step, st.Steps)
	}
	head += fmt.Sprintf("  weight %s%%  elapsed %v", pct(st.Weight), (time.Duration(st.ElapsedMs) * time.Millisecond).Round(time.Second))
	lines := []string{head}
	if st.Plan != nil {
		for i, w := range st.Plan.Steps {
			fill, label := stepProgress(m, i+1, now)
			lines = append(lines, fmt.Sprintf("  step %d %5s%%  %s  %s", i+1, pct(w), bar(fill), label))
		}
	}
	if mt := m.metrics; mt != nil {
		for _, name := range []string{"blue", "green"} {
			b := mt.Backends[name]
			lines = append(lines, fmt.Sprintf("  %-5s  sessions %6d  err %6s%%  p95 %9s  p99 %9s",
				name, b.Sessions, pct(b.ErrorRate*100), msText(b.P95Ms), msText(b.P99Ms)))
		}
	}
	if v := st.LastVerdict; v != nil {
		lines = append(lines, fmt.Sprintf("  last verdict: step %d %s  green err %s%% p95 %v  blue err %s%% p95 %v",
			v.Step, styled(string(v.Outcome)), pct(v.Green.ErrorRate*100), v.Green.P95, pct(v.Blue.ErrorRate*100), v.Blue.P95))
	}
	if m.dropped > 0 {
		lines = append(lines, fmt.Sprintf("  (%s missed; state from the metrics ticks)", count(m.dropped, "transition")))
	}
	for _, r := range m.recent {
		lines = append(lines, "  "+r)
	}
	return lines
}

// stepProgress returns how far step n is (0..1) and what to say of it.
func stepProgress(m *watchModel, n int, now time.Time) (float64, string) {
	st := m.status
	outcome := ""
	for _, h := range st.History {
		if h.Step == n && h.Outcome != "" {
			outcome = h.Outcome
		}
	}
	switch {
	case n < st.Step || (n == st.Step && st.State == "completed"):
		if outcome == "" {
			outcome = "done"
		}
		return 1, styled(outcome)
	case n > st.Step:
		return 0, ""
	}
	// The current step.
	switch st.State {
	case "shifting":
		if !st.Applied {
			return moveProgress(m, n), "moving sessions"
		}
		if st.Plan == nil || st.Plan.Hold <= 0 || st.HoldUntil.IsZero() {
			return 1, "gating"
		}
		left := st.HoldUntil.Sub(now)
		if left <= 0 {
			return 1, "gating"
		}
		hold := st.Plan.Hold.D()
		return clamp(1 - float64(left)/float64(hold)), fmt.Sprintf("holding, %v left", left.Round(time.Second))
	case "paused":
		if st.Plan != nil && st.Plan.Hold > 0 && st.HoldLeftMs > 0 {
			return clamp(1 - float64(time.Duration(st.HoldLeftMs)*time.Millisecond)/float64(st.Plan.Hold.D())), styled("paused")
		}
		return 0, styled("paused")
	}
	return 0, styled(st.State)
}

// moveProgress is how far the moves of step n are, from green's share of
// the sessions between the previous step's weight and this one's.
func moveProgress(m *watchModel, n int) float64 {
	st := m.status
	if m.metrics == nil || st.Plan == nil || n < 1 || n > len(st.Plan.Steps) {
		return 0
	}
	s := m.metrics.Sessions
	total := s.Blue + s.Green
	if total == 0 {
		return 0
	}
	prev := 0.0
	if n > 1 {
		prev = st.Plan.Steps[n-2]
	}
	target := st.Plan.Steps[n-1]
	if target <= prev {
		return 1
	}
	share := float64(s.Green) / float64(total) * 100
	return clamp((share - prev) / (target - prev))
}

func clamp(v float64) float64 { return min(max(v, 0), 1) }

func bar(fill float64) string {
	n := int(clamp(fill)*barWidth + 0.5)
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", barWidth-n) + "]"
}

// styled colours an outcome or a state.
func styled(s string) string {
	switch s {
	case "pass", "completed", "done":
		return ansiGreen + s + ansiReset
	case "fail", "rolling_back", "rolled_back", "aborted":
		return ansiRed + s + ansiReset
	case "inconclusive", "paused":
		return ansiYell + s + ansiReset
	}
	return s
}
