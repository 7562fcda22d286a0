package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/baton-rt/baton/internal/wire/engineio
cpu: Intel(R) Xeon(R) CPU
BenchmarkDecodePacket-2   	12345678	        95.20 ns/op	 420.11 MB/s	      48 B/op	       1 allocs/op
BenchmarkEncodePacket-2   	 5000000	       210 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/baton-rt/baton/internal/wire/engineio	2.1s
pkg: github.com/baton-rt/baton/internal/wire/legacy
BenchmarkDecodeMessage-2  	 3000000	       400.5 ns/op	      64 B/op	       2 allocs/op
`

func TestParseGoBench(t *testing.T) {
	got := ParseGoBench(goBenchOutput)
	if len(got) != 3 {
		t.Fatalf("parsed %d benchmarks, want 3: %+v", len(got), got)
	}
	first := GoBench{Pkg: "github.com/baton-rt/baton/internal/wire/engineio", Name: "BenchmarkDecodePacket-2",
		NsPerOp: 95.2, MBPerSec: 420.11, BytesPerOp: 48, AllocsPerOp: 1}
	if got[0] != first {
		t.Errorf("first = %+v", got[0])
	}
	if got[2].Pkg != "github.com/baton-rt/baton/internal/wire/legacy" || got[2].AllocsPerOp != 2 {
		t.Errorf("third = %+v", got[2])
	}
}

func FuzzParseGoBench(f *testing.F) {
	f.Add(goBenchOutput)
	f.Add("BenchmarkX 1 2 ns/op x B/op")
	f.Fuzz(func(t *testing.T, s string) {
		for _, b := range ParseGoBench(s) {
			if !strings.HasPrefix(b.Name, "Benchmark") {
				t.Fatalf("bad name %q", b.Name)
			}
		}
	})
}

func TestReport(t *testing.T) {
	ours := Result{Name: "Baton Socket.IO", Idle: Idle{Conns: 10000, BytesPerConn: 8 * 1024, HandshakesPerSec: 5000},
		Saturate: Fanout{Subscribers: 5000, DeliveriesPerSec: 200000},
		Latency:  Fanout{Subscribers: 5000, RatePerSec: 5, Latency: Latency{P50us: 1500, P99us: 9000}}}
	node := Result{Name: "Node socket.io", Idle: Idle{Conns: 10000, BytesPerConn: 16 * 1024, HandshakesPerSec: 2500},
		Saturate: Fanout{Subscribers: 5000, DeliveriesPerSec: 80000}}
	var sb strings.Builder
	Report(&sb, ReportOptions{
		Results: []Result{ours, node},
		Micro:   ParseGoBench(goBenchOutput),
		Machine: Machine{Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), CPUs: 2, Go: "go1.26", Node: "v20"},
		Command: "make bench",
	})
	out := sb.String()
	for _, want := range []string{
		"| Metric | Baton Socket.IO | Node socket.io | Baton Socket.IO / Node socket.io | Target |",
		"| RSS per idle connection (10,000 conns) | 8.0 KiB | 16.0 KiB | 0.50× | ≤ 1× — met |",
		"| Fan-out deliveries/s at saturation (5,000 subscribers) | 200,000 | 80,000 | 2.50× | ≥ 2× — met |",
		"| internal/wire/engineio | BenchmarkDecodePacket-2 | 95 | 420 | 48 | 1 |",
		"Measured 2026-01-02 03:04 UTC with `make bench`.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestReplaceBetween(t *testing.T) {
	doc := "# B\n\nprose\n" + BeginMarker + "\nold\n" + EndMarker + "\nmore prose\n"
	got, err := replaceBetween(doc, "new\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# B\n\nprose\n" + BeginMarker + "\nnew\n" + EndMarker + "\nmore prose\n"
	if got != want {
		t.Errorf("got %q", got)
	}
	if _, err := replaceBetween("no markers", "x"); !errors.Is(err, ErrNoMarkers) {
		t.Errorf("err = %v", err)
	}
}

func TestLeastNoisy(t *testing.T) {
	run := func(name string, other float64, rate float64) Result {
		return Result{Name: name, Saturate: Fanout{OtherCores: other, DeliveriesPerSec: rate}}
	}
	best, runs := leastNoisy([]Result{
		run("a", 0.5, 1), run("b", 0.1, 2), run("a", 0.2, 3), run("b", 0.9, 4), run("a", 0.3, 5),
	})
	if len(best) != 2 || best[0].Name != "a" || best[1].Name != "b" {
		t.Fatalf("best = %+v", best)
	}
	if best[0].Saturate.DeliveriesPerSec != 3 || best[1].Saturate.DeliveriesPerSec != 2 {
		t.Errorf("picked %+v", best)
	}
	if runs["a"] != 3 || runs["b"] != 2 {
		t.Errorf("runs = %v", runs)
	}
}
