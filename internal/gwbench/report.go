package gwbench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Markers around the gateway section of docs/benchmarks.md; the prose
// outside them is written by hand and kept.
const (
	BeginMarker = "<!-- gwbench:results:begin -->"
	EndMarker   = "<!-- gwbench:results:end -->"
)

// Targets of the gateway issue.
const (
	targetAddedP50us       = 20.0
	targetAddedP99us       = 40.0
	targetBytesPerSess     = 20000.0 // 20 KB
	targetFanoutRatio      = 0.8
	targetCPUPerFrameUs    = 8.0
	targetHandoverSecs     = 2.0
	targetPauseP99us       = 50000.0
	targetHandoverSessions = 10000
)

// ReportOptions is what Report renders.
type ReportOptions struct {
	Result  Result
	Machine string   // one line describing the machine
	Command string   // the command that produced the result
	Notes   []string // extra lines (pinning, versions)
}

// Report writes the gateway results section as Markdown.
func Report(w io.Writer, o ReportOptions) {
	r := o.Result
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("## Gateway results\n\n")
	p("Measured %s with `%s`.\n\n", r.Started.Format("2006-01-02 15:04 UTC"), o.Command)
	p("Machine: %s. Other processes used %.2f cores when the run started (load average %.2f); the machine is shared, so read the noise rows.\n", o.Machine, r.BusyBefore, r.LoadAvg)
	for _, n := range o.Notes {
		p("%s\n", n)
	}
	p("\n")
	latencyTable(w, r)
	memoryTable(w, r)
	fanoutTable(w, r)
	greenFanoutTable(w, r)
	sioTable(w, r)
	handoverTable(w, r)
	p("The driver (this run's clients) peaked at %.0f MiB RSS.\n", mib(r.DriverRSS))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func us(v float64) string { return fmt.Sprintf("%.0f µs", v) }

func signedUs(v float64) string { return fmt.Sprintf("%+.0f µs", v) }

func cores(c Cores, name string) string {
	v, ok := c.Procs[name]
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func latencyTable(w io.Writer, r Result) {
	d, okD := r.Latency["direct"]
	g, okG := r.Latency["gateway"]
	if !okD || !okG {
		return
	}
	n, okN := r.Latency["nginx"]
	c := r.Config
	fmt.Fprintf(w, "### Added latency (%d sessions per target)\n\n", g.Sessions)
	fmt.Fprintf(w, "Sequential publish requests of %d bytes, each from the next session, answered by an ack; the session is subscribed to its own channel, so the same message also comes back (publish→deliver). %d interleaved rounds of %s per target.\n\n", c.Payload, c.LatencyRounds, c.LatencyFor)
	peer := peerName(r)
	fmt.Fprintf(w, "| Metric | Direct | Gateway | %s | Gateway − direct | %s − direct | Target (gateway) |\n|---|---:|---:|---:|---:|---:|---|\n", peer, peer)
	row := func(name string, f func(RTT) float64, target string, ok func(float64) bool) {
		nv, nd := "–", "–"
		if okN {
			nv, nd = us(f(n)), signedUs(f(n)-f(d))
		}
		added := f(g) - f(d)
		t := target
		if ok != nil {
			t += " — " + verdict(ok(added))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name, us(f(d)), us(f(g)), nv, signedUs(added), nd, t)
	}
	row("request→ack p50", func(x RTT) float64 { return x.Ack.P50 }, "≤ +20 µs", func(a float64) bool { return a <= targetAddedP50us })
	row("request→ack p99", func(x RTT) float64 { return x.Ack.P99 }, "≤ +40 µs", func(a float64) bool { return a <= targetAddedP99us })
	row("request→ack p99.9", func(x RTT) float64 { return x.Ack.P999 }, "", nil)
	row("publish→deliver p50", func(x RTT) float64 { return x.Deliver.P50 }, "", nil)
	row("publish→deliver p99", func(x RTT) float64 { return x.Deliver.P99 }, "", nil)
	other := func(x RTT) string { return fmt.Sprintf("%.2f", x.Cores.Other) }
	samples := func(x RTT) string { return fmt.Sprintf("%d (%d errors)", x.Ack.N, x.Errors) }
	proxy := func(x RTT, name string) string { return cores(x.Cores, name) }
	nS, nO, nP := "–", "–", "–"
	if okN {
		nS, nO, nP = samples(n), other(n), proxy(n, "nginx")
	}
	fmt.Fprintf(w, "| samples | %s | %s | %s | | | |\n", samples(d), samples(g), nS)
	fmt.Fprintf(w, "| proxy CPU (cores) | – | %s | %s | | | |\n", proxy(g, "gateway"), nP)
	perRequest := func(x RTT) string { return fmt.Sprintf("%.1f µs", x.ProxyCPUPerRequestUs) }
	nR := "–"
	if okN {
		nR = perRequest(n)
	}
	fmt.Fprintf(w, "| proxy CPU per request | – | %s | %s | | | |\n", perRequest(g), nR)
	if g.AllocsPerRequest >= 0 {
		fmt.Fprintf(w, "| gateway heap allocations per request | – | %.1f | | | | |\n", g.AllocsPerRequest)
	}
	fmt.Fprintf(w, "| backend CPU (cores) | %s | %s | %s | | | |\n", proxy(d, "backend"), proxy(g, "backend"), func() string {
		if okN {
			return proxy(n, "backend")
		}
		return "–"
	}())
	fmt.Fprintf(w, "| other processes' CPU (cores; noise) | %s | %s | %s | | | |\n", other(d), other(g), nO)
	irq := func(x RTT) string { return fmt.Sprintf("%.2f", x.Cores.IRQ) }
	nI := "–"
	if okN {
		nI = irq(n)
	}
	fmt.Fprintf(w, "| softirq, mostly this run's loopback TCP (cores) | %s | %s | %s | | | |\n\n", irq(d), irq(g), nI)
}

func memoryTable(w io.Writer, r Result) {
	g, ok := r.Memory["gateway"]
	if !ok {
		return
	}
	n, okN := r.Memory["nginx"]
	if okN && n.Sessions != g.Sessions {
		fmt.Fprintf(w, "### Memory per idle session (%d sessions; %s %d)\n\n", g.Sessions, peerName(r), n.Sessions)
	} else {
		fmt.Fprintf(w, "### Memory per idle session (%d sessions)\n\n", g.Sessions)
	}
	fmt.Fprintf(w, "RSS growth of the proxy process (after a GC for the gateway) divided by the sessions; the gateway holds the client's socket and its own upstream socket per session, %[1]s one proxied connection (two sockets).%[2]s\n\n", peerName(r), sessionsNote(r))
	fmt.Fprintf(w, "| Metric | Gateway | %s | Target (gateway) |\n|---|---:|---:|---|\n", peerName(r))
	nv := func(f func(Memory) string) string {
		if okN {
			return f(n)
		}
		return "–"
	}
	per := func(m Memory) string { return fmt.Sprintf("%.1f KB", m.BytesPerSession/1000) }
	fmt.Fprintf(w, "| RSS per idle session | %s | %s | ≤ 20 KB — %s |\n", per(g), nv(per), verdict(g.BytesPerSession <= targetBytesPerSess))
	rss := func(m Memory) string { return fmt.Sprintf("%.0f → %.0f MiB", mib(m.RSSBefore), mib(m.RSSAfter)) }
	fmt.Fprintf(w, "| proxy RSS before → after | %s | %s | |\n", rss(g), nv(rss))
	conn := func(m Memory) string { return fmt.Sprintf("%.0f", m.ConnectsPerSec) }
	fmt.Fprintf(w, "| connects/s (64 in flight; gateway: attach to blue included) | %s | %s | |\n", conn(g), nv(conn))
	back := func(m Memory) string {
		return fmt.Sprintf("%.1f KB", float64(m.BackendRSSAfter-m.BackendRSSBefore)/float64(max(m.Sessions, 1))/1000)
	}
	fmt.Fprintf(w, "| backend RSS growth per session (no GC) | %s | %s | |\n\n", back(g), nv(back))
}

func fanoutTable(w io.Writer, r Result) {
	d, okD := r.Fanout["direct"]
	g, okG := r.Fanout["gateway"]
	if !okD || !okG {
		return
	}
	n, okN := r.Fanout["nginx"]
	fmt.Fprintf(w, "### Fan-out at saturation (%d subscribers of one channel)\n\n", g.Subscribers)
	fmt.Fprintf(w, "%d publishes in flight, at most %d messages ahead of the average subscriber; %s window after %s warm-up. The proxy's CPU per relayed frame is its CPU time over the window divided by the messages delivered (each read from the backend and written to a client). Each target was measured in %d rounds, the targets taking turns; the columns show each target's median round (by CPU per frame; direct by deliveries/s), and the last rows every round.\n\n", r.Config.InFlight, r.Config.MaxLag, r.Config.FanoutWindow, r.Config.FanoutWarmup, max(r.Config.FanoutRounds, 1))
	fmt.Fprintf(w, "| Metric | Direct | Gateway | %s | Gateway / direct | Target (gateway) |\n|---|---:|---:|---:|---:|---|\n", peerName(r))
	nv := func(f func(Fanout) string) string {
		if okN {
			return f(n)
		}
		return "–"
	}
	ratio := g.DeliveriesPerSec / max(d.DeliveriesPerSec, 1)
	dps := func(f Fanout) string { return fmt.Sprintf("%.0f", f.DeliveriesPerSec) }
	fmt.Fprintf(w, "| deliveries/s | %s | %s | %s | %.2f× | ≥ 0.8× — %s |\n", dps(d), dps(g), nv(dps), ratio, verdict(ratio >= targetFanoutRatio))
	fmt.Fprintf(w, "| proxy CPU per relayed frame | – | %.2f µs | %s | | ≤ 8 µs — %s |\n", g.ProxyCPUPerFrameUs,
		nv(func(f Fanout) string { return fmt.Sprintf("%.2f µs", f.ProxyCPUPerFrameUs) }), verdict(g.ProxyCPUPerFrameUs > 0 && g.ProxyCPUPerFrameUs <= targetCPUPerFrameUs))
	if g.AllocsPerFrame >= 0 {
		fmt.Fprintf(w, "| gateway heap allocations per relayed frame | – | %.3f | – | | |\n", g.AllocsPerFrame)
	}
	fmt.Fprintf(w, "| proxy CPU (cores) | – | %s | %s | | |\n", cores(g.Cores, "gateway"), nv(func(f Fanout) string { return cores(f.Cores, "nginx") }))
	fmt.Fprintf(w, "| backend CPU (cores) | %s | %s | %s | | |\n", cores(d.Cores, "backend"), cores(g.Cores, "backend"), nv(func(f Fanout) string { return cores(f.Cores, "backend") }))
	drv := func(f Fanout) string { return fmt.Sprintf("%.2f", f.Cores.Driver) }
	fmt.Fprintf(w, "| driver CPU (cores) | %s | %s | %s | | |\n", drv(d), drv(g), nv(drv))
	oth := func(f Fanout) string { return fmt.Sprintf("%.2f", f.Cores.Other) }
	fmt.Fprintf(w, "| other processes' CPU (cores; noise) | %s | %s | %s | | |\n", oth(d), oth(g), nv(oth))
	irq := func(f Fanout) string { return fmt.Sprintf("%.2f", f.Cores.IRQ) }
	fmt.Fprintf(w, "| softirq, mostly this run's loopback TCP (cores) | %s | %s | %s | | |\n", irq(d), irq(g), nv(irq))
	lost := func(f Fanout) string { return fmt.Sprintf("%d / %d", f.Lost, f.Dropped) }
	fmt.Fprintf(w, "| lost deliveries / dropped connections (all rounds) | %s | %s | %s | | |\n", lost(d), lost(g), nv(lost))
	fmt.Fprintf(w, "| every round: deliveries/s | %s | %s | %s | | |\n", perSec(d), perSec(g), nv(perSec))
	fmt.Fprintf(w, "| every round: proxy CPU per frame (µs) | – | %s | %s | | |\n\n", perFrame(g), nv(perFrame))
}

func handoverTable(w io.Writer, r Result) {
	if len(r.Handover) == 0 {
		return
	}
	h0 := r.Handover[0]
	fmt.Fprintf(w, "### Live handover (%d sessions, %d channels, %g msg/s per session)\n\n", h0.Sessions, h0.Channels, h0.PerSessionRate)
	fmt.Fprintf(w, "Every session moves on one `PUT /api/v1/weight`, under a steady publishing load on the backend (each message stamped with its send time). The delivery pause of a session is the largest rise in publish→deliver latency between two consecutive messages while the move is under way, from the weight change to its answer (the extra gap beyond the publisher's own gap; sampled by the session's own messages, so a lower bound: see Caveats); the baseline row is the same measure over %s of steady publishing before, the noise floor. Loss and duplicates are counted by seq at every client, after waiting for each channel's last message. A move with its connections prepared ahead had `POST /api/v1/weight/prepare` dial them, under the same load, before its baseline window: its time is the move's only, which resubscribes on them; the same sessions' move without preparation runs just before it, for comparison; the target is judged on the first move, which dials.%s\n\n", r.Config.Baseline, sessionsNote(r))
	fmt.Fprintf(w, "| Metric |")
	for _, h := range r.Handover {
		label := fmt.Sprintf("weight %g→%g", h.From, h.To)
		switch {
		case h.PerSessionRate != h0.PerSessionRate:
			label += fmt.Sprintf(" at %g msg/s per session (stress)", h.PerSessionRate)
		case h.Prepared:
			label += ", connections prepared ahead"
		}
		if h.Sessions != h0.Sessions {
			label += fmt.Sprintf(" (%d sessions)", h.Sessions)
		}
		fmt.Fprintf(w, " %s |", label)
	}
	fmt.Fprintf(w, " Target |\n|---|")
	for range r.Handover {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintf(w, "---|\n")
	row := func(name, target string, f func(Handover) string) {
		fmt.Fprintf(w, "| %s |", name)
		for _, h := range r.Handover {
			fmt.Fprintf(w, " %s |", f(h))
		}
		fmt.Fprintf(w, " %s |\n", target)
	}
	row("moved / failed (on target after)", "", func(h Handover) string { return fmt.Sprintf("%d / %d (%d)", h.Moved, h.Failed, h.OnTarget) })
	if slices.ContainsFunc(r.Handover, func(h Handover) bool { return h.Prepared }) {
		row("prepared ahead, before the baseline: time (prepared / failed)", "", func(h Handover) string {
			if !h.Prepared {
				return "–"
			}
			return fmt.Sprintf("%.2f s (%d / %d)", h.PrepareSeconds, h.PreparedConns, h.PrepareFailures)
		})
	}
	// With fewer sessions than the target's (a low open-file limit), the
	// time is judged scaled to the target's count at the measured rate.
	scaled := func(h Handover) float64 { return h.Seconds * targetHandoverSessions / float64(max(h.Moved, 1)) }
	timeOK := h0.Moved > 0 && h0.Failed == 0 && scaled(h0) <= targetHandoverSecs
	if h0.Sessions >= targetHandoverSessions {
		row("time (PUT sent → answered)", fmt.Sprintf("≤ 2 s — %s", verdict(timeOK)), func(h Handover) string { return fmt.Sprintf("%.2f s", h.Seconds) })
	} else {
		row("time (PUT sent → answered)", "", func(h Handover) string { return fmt.Sprintf("%.2f s", h.Seconds) })
		row("time scaled to 10,000 sessions at this rate", fmt.Sprintf("≤ 2 s — %s", verdict(timeOK)), func(h Handover) string { return fmt.Sprintf("%.2f s", scaled(h)) })
	}
	row("sessions/s", "", func(h Handover) string { return fmt.Sprintf("%.0f", h.SessionsPerSec) })
	ms := func(v float64) string { return fmt.Sprintf("%.1f ms", v/1000) }
	row("delivery pause p50 / p99 / max", fmt.Sprintf("p99 ≤ 50 ms — %s", verdict(h0.Pause.N > 0 && h0.Pause.P99 <= targetPauseP99us)), func(h Handover) string {
		return ms(h.Pause.P50) + " / " + ms(h.Pause.P99) + " / " + ms(h.Pause.Max)
	})
	row("baseline pause p50 / p99 / max (noise)", "", func(h Handover) string {
		return ms(h.BaselinePause.P50) + " / " + ms(h.BaselinePause.P99) + " / " + ms(h.BaselinePause.Max)
	})
	row("publish→deliver during the move p50 / p99", "", func(h Handover) string { return ms(h.Latency.P50) + " / " + ms(h.Latency.P99) })
	row("publish→deliver before it p50 / p99", "", func(h Handover) string { return ms(h.BaselineLatency.P50) + " / " + ms(h.BaselineLatency.P99) })
	lossOK := true
	for _, h := range r.Handover {
		lossOK = lossOK && h.Lost == 0 && h.Duplicated == 0 && h.Delivered > 0
	}
	row("messages lost / duplicated", "0 / 0 — "+verdict(lossOK), func(h Handover) string { return fmt.Sprintf("%d / %d", h.Lost, h.Duplicated) })
	row("published (errors, late) / delivered", "", func(h Handover) string {
		return fmt.Sprintf("%d (%d, %d) / %d", h.Published, h.PublishErrors, h.Late, h.Delivered)
	})
	row("client connections dropped", "", func(h Handover) string { return fmt.Sprintf("%d", h.Dropped) })
	row("gateway / backend CPU over the move (cores)", "", func(h Handover) string {
		return cores(h.Cores, "gateway") + " / " + cores(h.Cores, "backend")
	})
	row("other processes' CPU (cores; noise)", "", func(h Handover) string { return fmt.Sprintf("%.2f", h.Cores.Other) })
	row("softirq, mostly this run's loopback TCP (cores)", "", func(h Handover) string { return fmt.Sprintf("%.2f", h.Cores.IRQ) })
	fmt.Fprintln(w)
}

// ReplaceSection puts section between the gateway markers of the Markdown
// file at path; when the file has no markers the section is appended, with
// them, at its end.
func ReplaceSection(path, section string) error {
	return replaceMarked(path, BeginMarker, EndMarker, section)
}

// replaceMarked puts section between the begin and end markers of the
// document at path, appending it (with the markers) when both are missing.
// Nothing else in the document changes.
func replaceMarked(path, begin, end, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	block := begin + "\n" + strings.TrimRight(section, "\n") + "\n" + end + "\n"
	i := bytes.Index(b, []byte(begin))
	j := bytes.Index(b, []byte(end))
	var out []byte
	switch {
	case i < 0 && j < 0:
		out = append(bytes.TrimRight(b, "\n"), "\n\n"+block...)
	case i < 0 || j < i:
		return fmt.Errorf("%w in %s", ErrNoMarkers, path)
	default:
		stop := j + len(end)
		if stop < len(b) && b[stop] == '\n' {
			stop++
		}
		out = append(append(append([]byte{}, b[:i]...), block...), b[stop:]...)
	}
	return os.WriteFile(path, out, 0o644)
}

// peerName is how the report calls the proxy compared with the gateway.
func peerName(r Result) string {
	if r.Config.PeerName != "" {
		return r.Config.PeerName
	}
	return "NGINX"
}

// greenFanoutTable reports the fan-out through green, if it ran.
func greenFanoutTable(w io.Writer, r Result) {
	g, ok := r.Fanout[greenName]
	if !ok {
		return
	}
	fmt.Fprintf(w, "### Fan-out through green (%d subscribers, the gateway at weight 100)\n\n", g.Subscribers)
	fmt.Fprintf(w, "The same fan-out with the gateway's sessions on the Socket.IO service, where every client is once a migration is done: legacy clients at the edge, Socket.IO upstream. There is no direct figure to set against it (the driver's clients speak legacy), and its rate is not comparable with the table above: another service sends. Rounds took turns with the targets above; the column is the median round by CPU per frame.\n\n")
	fmt.Fprintf(w, "| Metric | Gateway via green |\n|---|---:|\n")
	fmt.Fprintf(w, "| deliveries/s | %.0f |\n", g.DeliveriesPerSec)
	fmt.Fprintf(w, "| proxy CPU per relayed frame | %.2f µs |\n", g.ProxyCPUPerFrameUs)
	if g.AllocsPerFrame >= 0 {
		fmt.Fprintf(w, "| gateway heap allocations per relayed frame | %.3f |\n", g.AllocsPerFrame)
	}
	fmt.Fprintf(w, "| proxy CPU (cores) | %s |\n", cores(g.Cores, greenName))
	fmt.Fprintf(w, "| backend CPU (cores) | %s |\n", cores(g.Cores, "backend"))
	fmt.Fprintf(w, "| driver CPU (cores) | %.2f |\n", g.Cores.Driver)
	fmt.Fprintf(w, "| other processes' CPU (cores; noise) | %.2f |\n", g.Cores.Other)
	fmt.Fprintf(w, "| lost deliveries / dropped connections (all rounds) | %d / %d |\n", g.Lost, g.Dropped)
	fmt.Fprintf(w, "| every round: deliveries/s | %s |\n", perSec(g))
	fmt.Fprintf(w, "| every round: proxy CPU per frame (µs) | %s |\n\n", perFrame(g))
}

// perSec and perFrame list every round's deliveries/s and CPU per frame.
func perSec(f Fanout) string {
	return joinRounds(f, func(rd FanoutRound) string { return fmt.Sprintf("%.0f", rd.DeliveriesPerSec) })
}

func perFrame(f Fanout) string {
	return joinRounds(f, func(rd FanoutRound) string { return fmt.Sprintf("%.2f", rd.ProxyCPUPerFrameUs) })
}

func joinRounds(f Fanout, each func(FanoutRound) string) string {
	parts := make([]string, len(f.Rounds))
	for i, rd := range f.Rounds {
		parts[i] = each(rd)
	}
	return strings.Join(parts, " / ")
}

// sessionsNote tells, for the memory and handover tables, when the
// gateway's sessions were Socket.IO clients rather than legacy ones.
func sessionsNote(r Result) string {
	if !r.Config.SessionsSocketIO {
		return ""
	}
	return " The gateway's sessions are Socket.IO clients (Engine.IO over WebSocket) at the edge; " + peerName(r) + "'s are legacy."
}
