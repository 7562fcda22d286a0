package gwbench

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	if err := os.WriteFile(p, []byte("# Benchmarks\n\nprose\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceSection(p, "one\n"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(must(os.ReadFile(p)), "\nafter\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceSection(p, "two"); err != nil {
		t.Fatal(err)
	}
	want := "# Benchmarks\n\nprose\n\n" + BeginMarker + "\ntwo\n" + EndMarker + "\n\nafter\n"
	if got := string(must(os.ReadFile(p))); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if err := os.WriteFile(p, []byte(EndMarker+"\n"+BeginMarker), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceSection(p, "x"); !errors.Is(err, ErrNoMarkers) {
		t.Fatalf("err = %v, want ErrNoMarkers", err)
	}
}

func TestReportMarksMissedTargets(t *testing.T) {
	r := Result{
		Latency: map[string]RTT{
			"direct":  {Ack: Dist{P50: 34, P99: 60}},
			"gateway": {Ack: Dist{P50: 50, P99: 200}},
		},
		Memory:   map[string]Memory{"gateway": {Sessions: 10, BytesPerSession: 15000}},
		Handover: []Handover{{Sessions: 10, Moved: 10, Seconds: 1, Pause: Dist{N: 10, P99: 10000}, Delivered: 5}},
	}
	wantLines(t, render(r),
		"| request→ack p50 | 34 µs | 50 µs | – | +16 µs | – | ≤ +20 µs — met |",
		"| request→ack p99 | 60 µs | 200 µs | – | +140 µs | – | ≤ +40 µs — **missed** |",
		"≤ 20 KB — met",
		"0 / 0 — met",
	)
}

// render is the report of r.
func render(r Result) string {
	var sb strings.Builder
	Report(&sb, ReportOptions{Result: r, Machine: "m", Command: "c"})
	return sb.String()
}

// wantLines fails t for each of wants that out lacks.
func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// NGINX's memory may be read at fewer sessions (its open files): the
// heading says so, and says nothing when both counts agree.
func TestReportNamesNGINXSessionCount(t *testing.T) {
	for _, tc := range []struct {
		nginx int
		want  string
	}{
		{9200, "### Memory per idle session (9800 sessions; NGINX 9200)"},
		{9800, "### Memory per idle session (9800 sessions)\n"},
	} {
		r := Result{Memory: map[string]Memory{
			"gateway": {Sessions: 9800, BytesPerSession: 18000},
			"nginx":   {Sessions: tc.nginx, BytesPerSession: 18100},
		}}
		var sb strings.Builder
		Report(&sb, ReportOptions{Result: r, Machine: "m", Command: "c"})
		if !strings.Contains(sb.String(), tc.want) {
			t.Errorf("NGINX at %d: report lacks %q:\n%s", tc.nginx, tc.want, sb.String())
		}
	}
}

// The peer at NGINX's place is named as configured in every table.
func TestReportNamesThePeer(t *testing.T) {
	r := Result{
		Config: Config{PeerName: "Go relay"},
		Latency: map[string]RTT{
			"direct":  {Ack: Dist{P50: 34, P99: 60}},
			"gateway": {Ack: Dist{P50: 50, P99: 200}, ProxyCPUPerRequestUs: 61.25, AllocsPerRequest: 3.04},
			"nginx":   {Ack: Dist{P50: 45, P99: 90}, ProxyCPUPerRequestUs: 44.9, AllocsPerRequest: -1},
		},
		Memory: map[string]Memory{
			"gateway": {Sessions: 9800, BytesPerSession: 18000},
			"nginx":   {Sessions: 9200, BytesPerSession: 18100},
		},
		Fanout: map[string]Fanout{"direct": {}, "gateway": {}, "nginx": {}},
	}
	out := render(r)
	wantLines(t, out,
		"| Metric | Direct | Gateway | Go relay | Gateway − direct | Go relay − direct |",
		"| request→ack p50 | 34 µs | 50 µs | 45 µs | +16 µs | +11 µs |",
		"| proxy CPU per request | – | 61.2 µs | 44.9 µs | | | |",
		"| gateway heap allocations per request | – | 3.0 | | | | |",
		"### Memory per idle session (9800 sessions; Go relay 9200)",
		"| Metric | Gateway | Go relay | Target (gateway) |",
		"| Metric | Direct | Gateway | Go relay | Gateway / direct |",
	)
	if strings.Contains(out, "NGINX") {
		t.Errorf("report names NGINX with another peer:\n%s", out)
	}
}

func TestConfigCapsNGINXSessions(t *testing.T) {
	for _, tc := range []struct{ sessions, nginx, want int }{
		{9800, 0, 9800}, {9800, 9200, 9200}, {9800, 12000, 9800},
	} {
		c := Config{Sessions: tc.sessions, NGINXSessions: tc.nginx}
		c.Defaults()
		if c.NGINXSessions != tc.want {
			t.Errorf("Sessions %d, NGINXSessions %d: got %d, want %d", tc.sessions, tc.nginx, c.NGINXSessions, tc.want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMedianRoundKeepsEveryRound(t *testing.T) {
	proxy := medianRound([]Fanout{
		{DeliveriesPerSec: 90000, ProxyCPUPerFrameUs: 9.2, Lost: 1},
		{DeliveriesPerSec: 110000, ProxyCPUPerFrameUs: 7.3},
		{DeliveriesPerSec: 95000, ProxyCPUPerFrameUs: 8.1, Dropped: 2},
	})
	if proxy.ProxyCPUPerFrameUs != 8.1 || proxy.DeliveriesPerSec != 95000 {
		t.Fatalf("median proxy round = %+v, want the 8.1 µs one", proxy)
	}
	if len(proxy.Rounds) != 3 || proxy.Rounds[0].ProxyCPUPerFrameUs != 9.2 || proxy.Rounds[2].DeliveriesPerSec != 95000 {
		t.Fatalf("rounds = %+v, want all three in the order run", proxy.Rounds)
	}
	if proxy.Lost != 1 || proxy.Dropped != 2 {
		t.Fatalf("lost %d dropped %d, want every round's: 1 and 2", proxy.Lost, proxy.Dropped)
	}
	// A round that relayed nothing (no CPU per frame) ranks last, not first.
	stalled := medianRound([]Fanout{
		{DeliveriesPerSec: 0, Lost: 5000},
		{DeliveriesPerSec: 90000, ProxyCPUPerFrameUs: 9.0},
		{DeliveriesPerSec: 95000, ProxyCPUPerFrameUs: 8.0},
	})
	if stalled.ProxyCPUPerFrameUs != 9.0 || stalled.Lost != 5000 {
		t.Fatalf("with a stalled round: median %+v, want the 9.0 µs round and the stall's 5000 lost", stalled)
	}
	direct := medianRound([]Fanout{{DeliveriesPerSec: 99000}, {DeliveriesPerSec: 88000}, {DeliveriesPerSec: 93000}})
	if direct.DeliveriesPerSec != 93000 {
		t.Fatalf("median direct round = %.0f deliveries/s, want 93000", direct.DeliveriesPerSec)
	}
}

// The fan-out through green has its own table, with its allocations, and
// none when it did not run.
func TestReportFanoutThroughGreen(t *testing.T) {
	r := Result{Fanout: map[string]Fanout{
		"direct":  {DeliveriesPerSec: 90000, AllocsPerFrame: -1},
		"gateway": {DeliveriesPerSec: 88000, ProxyCPUPerFrameUs: 8.4, AllocsPerFrame: 0.006},
		greenName: {
			Subscribers: 5000, DeliveriesPerSec: 240000, ProxyCPUPerFrameUs: 4.12, AllocsPerFrame: 0.003,
			Cores:  Cores{Procs: map[string]float64{greenName: 0.99, "backend": 0.6}},
			Rounds: []FanoutRound{{DeliveriesPerSec: 232277, ProxyCPUPerFrameUs: 4.27}, {DeliveriesPerSec: 240458, ProxyCPUPerFrameUs: 4.12}},
		},
	}}
	wantLines(t, render(r),
		"| gateway heap allocations per relayed frame | – | 0.006 | – | | |",
		"### Fan-out through green (5000 subscribers, the gateway at weight 100)",
		"| deliveries/s | 240000 |",
		"| proxy CPU per relayed frame | 4.12 µs |",
		"| gateway heap allocations per relayed frame | 0.003 |",
		"| proxy CPU (cores) | 0.99 |",
		"| every round: proxy CPU per frame (µs) | 4.27 / 4.12 |",
	)
	delete(r.Fanout, greenName)
	if out := render(r); strings.Contains(out, "through green") {
		t.Errorf("a green table without a green fan-out:\n%s", out)
	}
}

func TestReportSocketIOClients(t *testing.T) {
	r := Result{
		Latency: map[string]RTT{
			gatewaySIO:    {Sessions: 1000, Ack: Dist{N: 50000, P50: 150, P99: 240}, Deliver: Dist{P50: 160, P99: 260}, Cores: Cores{Procs: map[string]float64{gatewaySIO: 0.4}}, ProxyCPUPerRequestUs: 70.04, AllocsPerRequest: 64.96},
			directSIOName: {Sessions: 1000, Ack: Dist{N: 60000, P50: 50, P99: 90}, Deliver: Dist{P50: 55, P99: 95}},
		},
		Fanout: map[string]Fanout{
			gatewaySIO: {
				Subscribers: 5000, DeliveriesPerSec: 460000, ProxyCPUPerFrameUs: 2.15, AllocsPerFrame: 1.01,
				Cores:  Cores{Procs: map[string]float64{gatewaySIO: 0.99, "backend": 0.7}},
				Rounds: []FanoutRound{{DeliveriesPerSec: 450000, ProxyCPUPerFrameUs: 2.2}, {DeliveriesPerSec: 460000, ProxyCPUPerFrameUs: 2.15}},
			},
			directSIOName: {Subscribers: 5000, DeliveriesPerSec: 400000, AllocsPerFrame: -1, Rounds: []FanoutRound{{DeliveriesPerSec: 400000}}},
		},
	}
	wantLines(t, render(r),
		"### Socket.IO clients (gateway at weight 100 vs green direct)",
		"| request→ack p50 | 50 µs | 150 µs | +100 µs |",
		"| publish→deliver p99 | 95 µs | 260 µs | +165 µs |",
		"| latency samples | 60000 (0 errors) | 50000 (0 errors) | |",
		"| gateway CPU per request | – | 70.0 µs | |",
		"| gateway heap allocations per request | – | 65.0 | |",
		"| fan-out deliveries/s (5000 subscribers) | 400000 | 460000 | 1.15× |",
		"| fan-out: gateway CPU per relayed frame | – | 2.15 µs | |",
		"| fan-out: gateway heap allocations per relayed frame | – | 1.010 | |",
		"| fan-out, every round: gateway CPU per frame (µs) | – | 2.20 / 2.15 | |",
	)
	delete(r.Latency, directSIOName)
	delete(r.Fanout, directSIOName)
	if out := render(r); strings.Contains(out, "Socket.IO clients") {
		t.Errorf("a Socket.IO table without the direct figures:\n%s", out)
	}
}

func TestReportNamesSocketIOSessions(t *testing.T) {
	r := Result{
		Memory:   map[string]Memory{"gateway": {Sessions: 100, BytesPerSession: 21000}},
		Handover: []Handover{{Sessions: 100, Channels: 10, PerSessionRate: 1, Moved: 100}},
	}
	if out := render(r); strings.Contains(out, "Socket.IO clients") {
		t.Errorf("legacy sessions named Socket.IO:\n%s", out)
	}
	r.Config.SessionsSocketIO = true
	if out := render(r); strings.Count(out, "The gateway's sessions are Socket.IO clients") != 2 {
		t.Errorf("want the memory and handover tables to name Socket.IO sessions:\n%s", out)
	}
}
