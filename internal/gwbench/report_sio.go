package gwbench

import (
	"fmt"
	"io"
)

// sioTable reports the Socket.IO clients' figures, if they were measured:
// through the gateway at weight 100 (Socket.IO at the edge and upstream)
// against green direct.
func sioTable(w io.Writer, r Result) {
	gl, okGL := r.Latency[gatewaySIO]
	dl, okDL := r.Latency[directSIOName]
	gf, okGF := r.Fanout[gatewaySIO]
	df, okDF := r.Fanout[directSIOName]
	if !(okGL && okDL) && !(okGF && okDF) {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("### Socket.IO clients (gateway at weight 100 vs green direct)\n\n")
	p("The driver's clients speak Socket.IO (Engine.IO v4 over WebSocket from the first request) with the reference services' events, through the gateway at weight 100 (Socket.IO at the edge and upstream) and direct to the green Socket.IO service. Latency: as above, %d sessions per target, in rounds of their own after the legacy ones. Fan-out: as above, the rounds taking turns with the other targets; median round by CPU per frame (direct by deliveries/s).\n\n", gl.Sessions)
	p("| Metric | Direct (green) | Gateway | Gateway − direct |\n|---|---:|---:|---:|\n")
	if okGL && okDL {
		row := func(name string, f func(RTT) float64) {
			p("| %s | %s | %s | %s |\n", name, us(f(dl)), us(f(gl)), signedUs(f(gl)-f(dl)))
		}
		row("request→ack p50", func(x RTT) float64 { return x.Ack.P50 })
		row("request→ack p99", func(x RTT) float64 { return x.Ack.P99 })
		row("publish→deliver p50", func(x RTT) float64 { return x.Deliver.P50 })
		row("publish→deliver p99", func(x RTT) float64 { return x.Deliver.P99 })
		p("| latency samples | %d (%d errors) | %d (%d errors) | |\n", dl.Ack.N, dl.Errors, gl.Ack.N, gl.Errors)
		p("| gateway CPU over the latency rounds (cores) | – | %s | |\n", cores(gl.Cores, gatewaySIO))
		p("| gateway CPU per request | – | %.1f µs | |\n", gl.ProxyCPUPerRequestUs)
		if gl.AllocsPerRequest >= 0 {
			p("| gateway heap allocations per request | – | %.1f | |\n", gl.AllocsPerRequest)
		}
	}
	if okGF && okDF {
		p("| fan-out deliveries/s (%d subscribers) | %.0f | %.0f | %.2f× |\n", gf.Subscribers, df.DeliveriesPerSec, gf.DeliveriesPerSec, gf.DeliveriesPerSec/max(df.DeliveriesPerSec, 1))
		p("| fan-out: gateway CPU per relayed frame | – | %.2f µs | |\n", gf.ProxyCPUPerFrameUs)
		if gf.AllocsPerFrame >= 0 {
			p("| fan-out: gateway heap allocations per relayed frame | – | %.3f | |\n", gf.AllocsPerFrame)
		}
		p("| fan-out: gateway / backend CPU (cores) | – / %s | %s / %s | |\n", cores(df.Cores, "backend"), cores(gf.Cores, gatewaySIO), cores(gf.Cores, "backend"))
		p("| fan-out: lost deliveries / dropped connections (all rounds) | %d / %d | %d / %d | |\n", df.Lost, df.Dropped, gf.Lost, gf.Dropped)
		p("| fan-out, every round: deliveries/s | %s | %s | |\n", perSec(df), perSec(gf))
		p("| fan-out, every round: gateway CPU per frame (µs) | – | %s | |\n", perFrame(gf))
	}
	p("\n")
}
