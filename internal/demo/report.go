package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Outcomes of a demo's rollout.
const (
	OutcomeCompleted  = "completed"
	OutcomeRolledBack = "rolled_back"
	OutcomeAborted    = "aborted"
	OutcomeTimedOut   = "timed_out" // the rollout had not ended by Config.Timeout
)

// Exit codes of a demo (Report.ExitCode).
const (
	ExitOK          = 0 // completed, every guarantee held
	ExitBroken      = 1 // a guarantee broke
	ExitNotComplete = 2 // every guarantee held, but the rollout did not complete (rolled back)
)

// Report is the demo's verification: what the clients saw while the
// rollout ran, and whether every guarantee held.
type Report struct {
	Outcome string `json:"outcome"`
	// Reason is why the rollout rolled back or stopped.
	Reason string `json:"reason,omitempty"`
	Fault  string `json:"fault"`

	Clients         int     `json:"clients"`
	LegacyClients   int     `json:"legacy_clients"`
	SocketIOClients int     `json:"socketio_clients"`
	Channels        int     `json:"channels"`
	Rate            float64 `json:"rate"` // messages published per second

	Steps []StepReport `json:"steps"`

	Sessions      Preserved `json:"sessions"`
	Subscriptions Preserved `json:"subscriptions"`
	// Reconnects counts client connections that ended during the run:
	// every one would have been a reconnect for a real client.
	Reconnects uint64 `json:"reconnects"`
	// Disconnects says why the first few of those connections ended.
	Disconnects []string     `json:"disconnects,omitempty"`
	Messages    MessageStats `json:"messages"`
	Requests    RequestStats `json:"requests"`
	// Backends are the request→ack figures the clients measured, by the
	// backend their user was routed to when the request left.
	Backends map[string]BackendLatency `json:"backends"`
	// MaxPauseMs is the largest gap between two deliveries to one client
	// while the publisher ran (MaxPauseUser is that client).
	MaxPauseMs   float64 `json:"max_pause_ms"`
	MaxPauseUser string  `json:"max_pause_user,omitempty"`
	// CadenceMs is the largest gap the publishing schedule alone leaves
	// between two messages for one client: the floor of MaxPauseMs.
	CadenceMs float64 `json:"cadence_ms"`

	// Final is where the sessions were at the end, Moves the gateway's
	// counters of the run.
	Final Placement `json:"final_sessions"`
	Moves Moves     `json:"moves"`

	RolloutSeconds float64 `json:"rollout_seconds"`
	TotalSeconds   float64 `json:"total_seconds"`

	Checks []Check `json:"checks"`
	// OK is true when every check passed.
	OK bool `json:"ok"`
}

// StepReport is one rollout step as the controller recorded it.
type StepReport struct {
	Weight  float64 `json:"weight"`
	Outcome string  `json:"outcome"`
	Moved   int     `json:"moved"`
	Failed  int     `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// Preserved counts what was still intact at the end.
type Preserved struct {
	Kept  int `json:"kept"`
	Total int `json:"total"`
}

// MessageStats are the clients' checks of the sequenced streams.
type MessageStats struct {
	Published  uint64 `json:"published"`
	Delivered  uint64 `json:"delivered"`
	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	OutOfOrder uint64 `json:"out_of_order"`
	// Stray counts messages on a channel the client had not subscribed to.
	Stray uint64 `json:"stray"`
}

// RequestStats are the clients' requests (publish with ack).
type RequestStats struct {
	Total     uint64  `json:"total"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
}

// Placement counts sessions by backend.
type Placement struct {
	Blue     int `json:"blue"`
	Green    int `json:"green"`
	Detached int `json:"detached"`
}

// Moves are the gateway's move counters.
type Moves struct {
	Done           uint64 `json:"done"`
	Failed         uint64 `json:"failed"`
	Drops          uint64 `json:"drops"` // backend connections lost unasked
	Reattached     uint64 `json:"reattached"`
	ReattachFailed uint64 `json:"reattach_failed"`
}

// Check is one guarantee and whether it held.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// ExitCode is the process exit code the report calls for.
func (r *Report) ExitCode() int {
	switch {
	case !r.OK:
		return ExitBroken
	case r.Outcome != OutcomeCompleted:
		return ExitNotComplete
	}
	return ExitOK
}

// check derives the guarantees from the figures and sets OK.
func (r *Report) check() {
	add := func(name string, ok bool, format string, args ...any) {
		r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	add("sessions preserved", r.Sessions.Kept == r.Sessions.Total, "%d of %d client connections open from start to end", r.Sessions.Kept, r.Sessions.Total)
	add("subscriptions preserved", r.Subscriptions.Kept == r.Subscriptions.Total, "%d of %d subscriptions delivered up to the last message", r.Subscriptions.Kept, r.Subscriptions.Total)
	add("no reconnects", r.Reconnects == 0, "%d client connections ended", r.Reconnects)
	m := r.Messages
	// With nothing published (a rate too low for the run), the checks
	// below would pass on no evidence.
	add("messages checked", m.Published > 0 && m.Delivered > 0, "%d published, %d deliveries checked", m.Published, m.Delivered)
	add("nothing lost", m.Lost == 0, "%d messages missing", m.Lost)
	add("no duplicates", m.Duplicated == 0, "%d delivered twice", m.Duplicated)
	add("in order", m.OutOfOrder == 0 && m.Stray == 0, "%d out of order, %d on channels not subscribed", m.OutOfOrder, m.Stray)
	switch r.Outcome {
	case OutcomeCompleted:
		add("everyone on green", r.Final.Blue == 0 && r.Final.Detached == 0, "%d on blue, %d detached", r.Final.Blue, r.Final.Detached)
	case OutcomeRolledBack:
		add("everyone back on blue", r.Final.Green == 0 && r.Final.Detached == 0, "%d on green, %d detached", r.Final.Green, r.Final.Detached)
	case OutcomeTimedOut:
		add("rollout ended", false, "still running when the demo's time ran out")
	}
	r.OK = !slices.ContainsFunc(r.Checks, func(c Check) bool { return !c.OK })
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	title := map[string]string{
		OutcomeCompleted:  "rollout completed: everyone on green",
		OutcomeRolledBack: "rollout rolled back: everyone on blue",
		OutcomeAborted:    "rollout aborted",
		OutcomeTimedOut:   "rollout did not finish in time",
	}[r.Outcome]
	fmt.Fprintf(&b, "\nVerification report — %s\n", title)
	if r.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", r.Reason)
	}
	fmt.Fprintf(&b, "%d clients (%d legacy, %d Socket.IO), %d channels, %.0f msg/s, fault: %s\n\n",
		r.Clients, r.LegacyClients, r.SocketIOClients, r.Channels, r.Rate, r.Fault)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if len(r.Steps) > 0 {
		fmt.Fprintln(tw, "step\tweight\tmoved\tfailed\ttime\toutcome")
		for i, s := range r.Steps {
			fmt.Fprintf(tw, "%d\t%g %%\t%d\t%d\t%.1fs\t%s\n", i+1, s.Weight, s.Moved, s.Failed, s.Seconds, s.Outcome)
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw, "measure\tvalue")
	fmt.Fprintf(tw, "sessions preserved\t%d / %d\n", r.Sessions.Kept, r.Sessions.Total)
	fmt.Fprintf(tw, "subscriptions preserved\t%d / %d\n", r.Subscriptions.Kept, r.Subscriptions.Total)
	fmt.Fprintf(tw, "reconnects\t%d\n", r.Reconnects)
	for _, why := range r.Disconnects {
		fmt.Fprintf(tw, "  ended\t%s\n", why)
	}
	fmt.Fprintf(tw, "messages published / delivered\t%d / %d\n", r.Messages.Published, r.Messages.Delivered)
	fmt.Fprintf(tw, "lost / duplicated / out of order\t%d / %d / %d\n", r.Messages.Lost, r.Messages.Duplicated, r.Messages.OutOfOrder)
	fmt.Fprintf(tw, "requests (errors)\t%d (%d, %.2f %%)\n", r.Requests.Total, r.Requests.Errors, 100*r.Requests.ErrorRate)
	for _, name := range []string{"blue", "green"} {
		if l, ok := r.Backends[name]; ok {
			fmt.Fprintf(tw, "%s request→ack P95 / P99\t%.1f ms / %.1f ms (%d requests, %.2f %% errors)\n", name, l.P95Ms, l.P99Ms, l.Requests, 100*l.ErrorRate)
		}
	}
	fmt.Fprintf(tw, "largest delivery pause\t%.0f ms (the publishing schedule alone leaves up to %.0f ms)\n", r.MaxPauseMs, r.CadenceMs)
	fmt.Fprintf(tw, "sessions at the end\tblue %d, green %d, detached %d\n", r.Final.Blue, r.Final.Green, r.Final.Detached)
	fmt.Fprintf(tw, "moves (failed) / backend drops (re-attached)\t%d (%d) / %d (%d)\n", r.Moves.Done, r.Moves.Failed, r.Moves.Drops, r.Moves.Reattached)
	fmt.Fprintf(tw, "rollout time / total time\t%.1fs / %.1fs\n", r.RolloutSeconds, r.TotalSeconds)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "guarantee\t\tdetail")
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "BROKEN"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, mark, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "every guarantee held"
	if !r.OK {
		verdict = "A GUARANTEE BROKE"
	}
	fmt.Fprintf(&b, "\n%s (exit code %d)\n", verdict, r.ExitCode())
	_, err := io.WriteString(w, b.String())
	return err
}

func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }
