package gwbench

import (
	"fmt"
	"io"
)

// Markers of the emergency-rollback section of docs/benchmarks.md.
const (
	EmergencyBeginMarker = "<!-- emergency:results:begin -->"
	EmergencyEndMarker   = "<!-- emergency:results:end -->"
)

// EmergencyReport renders e as the emergency-rollback section: the command
// that produced it, the machine, the figures and their caveats.
func EmergencyReport(w io.Writer, e Emergency, command, machine string, notes []string) {
	fmt.Fprintf(w, "## Emergency rollback (gateway process, %d sessions)\n\n", e.Sessions)
	fmt.Fprintf(w, "Run %s on %s with\n\n```\n%s\n```\n\n", e.Started.Format("2006-01-02 15:04 MST"), machine, command)
	fmt.Fprintf(w, "%d legacy sessions through the gateway (its own process), each subscribed to one of %d channels "+
		"that receive %.0f msg/s per session through Redis; a one-step rollout (100 %%, long hold) put them all on "+
		"green in %.2f s; then `POST /api/v1/rollout/emergency-rollback`, and `GET /api/v1/status` every %v until every "+
		"session was on blue.\n\n", e.Sessions, e.Config.Channels, e.Config.PerSessionRate, e.ShiftSeconds, e.Config.Poll)
	fmt.Fprintln(w, "| measure | value |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| sessions moved green → blue | %d (on blue after: %d, moves failed: %d) |\n", e.Sessions, e.OnBlue, e.MovesFailed)
	fmt.Fprintf(w, "| command answered | %.1f ms |\n", e.AnswerMs)
	fmt.Fprintf(w, "| **every session on blue (measured)** | **%.3f s** (%.0f sessions/s) |\n", e.Seconds, e.SessionsPerSec)
	fmt.Fprintf(w, "| controller's record (rollback started → rolled back) | %.3f s, final state `%s` |\n", e.ControllerSeconds, e.State)
	fmt.Fprintf(w, "| **scaled to 10,000 sessions (linear, not measured)** | **%.3f s** (target ≤ 1 s) |\n", e.ScaledSeconds)
	fmt.Fprintf(w, "| sessions holding a blue standby when the command was sent | %d |\n", e.StandbyBefore)
	fmt.Fprintf(w, "| messages published / delivered | %d / %d (publish errors %d) |\n", e.Published, e.Delivered, e.PublishErrors)
	fmt.Fprintf(w, "| lost / duplicated / clients dropped | %d / %d / %d |\n", e.Lost, e.Duplicated, e.Dropped)
	fmt.Fprintf(w, "| delivery pause per session, p50 / p99 / max | %.1f / %.1f / %.1f ms (before: p99 %.1f ms) |\n\n",
		e.Pause.P50/1000, e.Pause.P99/1000, e.Pause.Max/1000, e.BaselinePause.P99/1000)
	if len(e.Cores.Procs) > 0 {
		fmt.Fprintf(w, "CPU over the rollback (cores): gateway %.2f, blue %.2f, green %.2f, driver %.2f, interrupts (loopback TCP) %.2f, "+
			"other processes %.2f (before the command: other %.2f, load average %.2f).\n\n",
			e.Cores.Procs["gateway"], e.Cores.Procs["blue"], e.Cores.Procs["green"], e.Cores.Driver, e.Cores.IRQ,
			e.Cores.Other, e.OtherBefore, e.LoadAvg)
	}
	fmt.Fprintf(w, "The figure scaled to 10,000 is %d sessions' time × 10,000 / %d: the open-file hard limit here is "+
		"20,000 per process and during a rollout the gateway holds three sockets per session moved to green (client, "+
		"green upstream, blue standby) plus one per move in flight, so 10,000 sessions do not fit in one gateway "+
		"process on this machine. Linear scaling assumes the moves stay CPU-bound at the same rate.\n", e.Sessions, e.Sessions)
	for _, n := range notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

// ReplaceEmergencySection puts section between the emergency markers of
// the document at path, appending it (with the markers) when they are
// missing. Nothing else in the document changes.
func ReplaceEmergencySection(path, section string) error {
	return replaceMarked(path, EmergencyBeginMarker, EmergencyEndMarker, section)
}
