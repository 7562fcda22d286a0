package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ReportOptions is what Report renders.
type ReportOptions struct {
	// Results in column order. The first is the Socket.IO service under test
	// and the second its peer (official Node socket.io): the ratio and target
	// columns compare those two.
	Results []Result
	Micro   []GoBench
	Machine Machine
	Command string // how the results were produced, e.g. "make bench"
	Notes   string // extra machine note
}

// Machine describes where the benchmark ran.
type Machine struct {
	Date     time.Time
	CPUs     int
	CPUModel string
	MemTotal int64 // bytes
	Kernel   string
	Go       string
	Node     string
}

// DescribeMachine reads the machine notes from /proc and the toolchains.
func DescribeMachine(ctx context.Context) Machine {
	m := Machine{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), Go: runtime.Version()}
	// The machine's CPUs, not this process's: a driver pinned with
	// taskset sees one in runtime.NumCPU.
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus := 0
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "processor":
				cpus++
			case k == "model name" && m.CPUModel == "":
				m.CPUModel = strings.TrimSpace(v)
			}
		}
		if cpus > 0 {
			m.CPUs = cpus
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemTotal = kb * 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "node", "--version").Output(); err == nil {
		m.Node = strings.TrimSpace(string(out))
	}
	return m
}

// GoBench is one line of `go test -bench -benchmem` output.
type GoBench struct {
	Pkg         string
	Name        string
	NsPerOp     float64
	MBPerSec    float64 // 0 when the benchmark sets no byte count
	BytesPerOp  int64
	AllocsPerOp int64
}

// ParseGoBench reads benchmark lines and the pkg: lines that scope them.
func ParseGoBench(out string) []GoBench {
	var (
		res []GoBench
		pkg string
	)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		b := GoBench{Pkg: pkg, Name: f[0]}
		// f[1] is the iteration count; then value/unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op":
				b.NsPerOp = v
			case "MB/s":
				b.MBPerSec = v
			case "B/op":
				b.BytesPerOp = int64(v)
			case "allocs/op":
				b.AllocsPerOp = int64(v)
			}
		}
		res = append(res, b)
	}
	return res
}

// row is one metric across all results: value extracts it, format prints it.
type row struct {
	name   string
	value  func(Result) float64
	format func(float64) string
	// target, when set, judges the ratio first/second.
	target  func(ratio float64) string
	noRatio bool // the ratio means nothing (e.g. load average)
}

func kib(v float64) string   { return fmt.Sprintf("%.1f KiB", v/1024) }
func mibs(v float64) string  { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }
func count(v float64) string { return groupThousands(int64(v + 0.5)) }
func ms(v float64) string    { return fmt.Sprintf("%.2f ms", v/1000) }
func cores(v float64) string { return fmt.Sprintf("%.2f", v) }

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func atMost(limit float64) func(float64) string {
	return func(r float64) string {
		if r <= limit {
			return fmt.Sprintf("≤ %g× — met", limit)
		}
		return fmt.Sprintf("≤ %g× — **missed**", limit)
	}
}

func atLeast(limit float64) func(float64) string {
	return func(r float64) string {
		if r >= limit {
			return fmt.Sprintf("≥ %g× — met", limit)
		}
		return fmt.Sprintf("≥ %g× — **missed**", limit)
	}
}

func rows(first Result) []row {
	lat := first.Latency
	return []row{
		{name: fmt.Sprintf("RSS per idle connection (%s conns)", count(float64(first.Idle.Conns))),
			value: func(r Result) float64 { return r.Idle.BytesPerConn }, format: kib, target: atMost(1)},
		{name: "Handshakes/s (upgrade + namespace join)",
			value: func(r Result) float64 { return r.Idle.HandshakesPerSec }, format: count},
		{name: fmt.Sprintf("Fan-out deliveries/s at saturation (%s subscribers)", count(float64(first.Saturate.Subscribers))),
			value: func(r Result) float64 { return r.Saturate.DeliveriesPerSec }, format: count, target: atLeast(2)},
		{name: "Deliveries per server CPU-second (per core)",
			value: func(r Result) float64 { return r.Saturate.DeliveriesPerCPUSec }, format: count, target: atLeast(2)},
		{name: "Server CPU at saturation (cores)",
			value: func(r Result) float64 { return r.Saturate.ServerCores }, format: cores},
		{name: "Load generator CPU at saturation (cores)",
			value: func(r Result) float64 { return r.Saturate.ClientCores }, format: cores},
		{name: "Other processes' CPU at saturation (cores; noise)",
			value: func(r Result) float64 { return r.Saturate.OtherCores }, format: cores, noRatio: true},
		{name: fmt.Sprintf("Publish→deliver p50 at %g msg/s × %s", lat.RatePerSec, count(float64(lat.Subscribers))),
			value: func(r Result) float64 { return r.Latency.Latency.P50us }, format: ms},
		{name: "Publish→deliver p99",
			value: func(r Result) float64 { return r.Latency.Latency.P99us }, format: ms},
		{name: "Publish→deliver p99.9",
			value: func(r Result) float64 { return r.Latency.Latency.P999us }, format: ms},
		{name: "Server CPU in the latency phase (cores)",
			value: func(r Result) float64 { return r.Latency.ServerCores }, format: cores},
		{name: "Other processes' CPU in the latency phase (cores; noise)",
			value: func(r Result) float64 { return r.Latency.OtherCores }, format: cores, noRatio: true},
		{name: "Lost deliveries (latency + saturation)",
			value: func(r Result) float64 { return float64(r.Latency.Lost + r.Saturate.Lost) }, format: count},
		{name: "Connections dropped by the server",
			value: func(r Result) float64 { return float64(r.Latency.Dropped + r.Saturate.Dropped) }, format: count},
		{name: "Server RSS with idle connections",
			value: func(r Result) float64 { return float64(r.Idle.RSSAfter) }, format: mibs},
		{name: "Server peak RSS (whole run)",
			value: func(r Result) float64 { return float64(r.ServerPeakRSS) }, format: mibs},
		{name: "Load generator RSS with the idle connections",
			value: func(r Result) float64 { return float64(r.Idle.ClientRSS) }, format: mibs, noRatio: true},
		{name: "Other processes' CPU when the run started (cores)",
			value: func(r Result) float64 { return r.BusyBefore }, format: cores, noRatio: true},
		{name: "Machine load average when the run started",
			value: func(r Result) float64 { return r.LoadAvg }, format: func(v float64) string { return fmt.Sprintf("%.2f", v) }, noRatio: true},
	}
}

// noise is how much CPU other processes took during a run's measured
// phases, in cores.
func noise(r Result) float64 { return max(r.Saturate.OtherCores, 0) + max(r.Latency.OtherCores, 0) }

// leastNoisy keeps, for each service name, the run during which other
// processes used the least CPU, in the order the names first appear, and
// returns how many runs each name had. Picking by noise, not by outcome,
// keeps the choice from favouring any server.
func leastNoisy(results []Result) (best []Result, runs map[string]int) {
	runs = map[string]int{}
	index := map[string]int{}
	for _, r := range results {
		runs[r.Name]++
		i, seen := index[r.Name]
		switch {
		case !seen:
			index[r.Name] = len(best)
			best = append(best, r)
		case noise(r) < noise(best[i]):
			best[i] = r
		}
	}
	return best, runs
}

// Report writes the results section as Markdown.
func Report(w io.Writer, o ReportOptions) {
	m := o.Machine
	fmt.Fprintf(w, "## Results\n\n")
	fmt.Fprintf(w, "Measured %s with `%s`.\n\n", m.Date.Format("2006-01-02 15:04 MST"), o.Command)
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %.1f GiB memory, Linux %s, %s, Node %s.\n",
		m.CPUs, orUnknown(m.CPUModel), float64(m.MemTotal)/(1<<30), orUnknown(m.Kernel), m.Go, orUnknown(m.Node))
	fmt.Fprintf(w, "The machine is shared and small: the server and the load generator compete for the same cores, "+
		"so absolute numbers are lower bounds and vary between runs; compare columns within one run.")
	if o.Notes != "" {
		fmt.Fprintf(w, " %s", o.Notes)
	}
	results, runs := leastNoisy(o.Results)
	if len(results) < len(o.Results) {
		fmt.Fprint(w, " Each service ran several times (")
		for i, r := range results {
			if i > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "%s: %d", r.Name, runs[r.Name])
		}
		fmt.Fprint(w, "), rounds interleaved; the table shows, for each, the run during which other processes used the least CPU.")
	}
	fmt.Fprint(w, "\n\n")
	if len(results) > 0 {
		writeResultTable(w, results)
	}
	if len(o.Micro) > 0 {
		writeMicroTable(w, o.Micro)
	}
}

func writeResultTable(w io.Writer, results []Result) {
	compare := len(results) >= 2
	fmt.Fprint(w, "| Metric |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.Name)
	}
	if compare {
		fmt.Fprintf(w, " %s / %s | Target |", results[0].Name, results[1].Name)
	}
	fmt.Fprint(w, "\n|---|")
	for range results {
		fmt.Fprint(w, "---:|")
	}
	if compare {
		fmt.Fprint(w, "---:|---|")
	}
	fmt.Fprintln(w)
	for _, rw := range rows(results[0]) {
		fmt.Fprintf(w, "| %s |", rw.name)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", rw.format(rw.value(r)))
		}
		if compare {
			a, b := rw.value(results[0]), rw.value(results[1])
			ratio, judged := "–", ""
			if b != 0 && !rw.noRatio {
				ratio = fmt.Sprintf("%.2f×", a/b)
				if rw.target != nil {
					judged = rw.target(a / b)
				}
			}
			fmt.Fprintf(w, " %s | %s |", ratio, judged)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

func writeMicroTable(w io.Writer, micro []GoBench) {
	fmt.Fprint(w, "### Codec micro-benchmarks\n\n")
	fmt.Fprint(w, "`go test -run='^$' -bench=. -benchmem ./internal/wire/...`\n\n")
	fmt.Fprint(w, "| Package | Benchmark | ns/op | MB/s | B/op | allocs/op |\n|---|---|---:|---:|---:|---:|\n")
	for _, b := range micro {
		mbs := "–"
		if b.MBPerSec > 0 {
			mbs = fmt.Sprintf("%.0f", b.MBPerSec)
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %d | %d |\n",
			shortPkg(b.Pkg), b.Name, b.NsPerOp, mbs, b.BytesPerOp, b.AllocsPerOp)
	}
	fmt.Fprintln(w)
}

func shortPkg(p string) string {
	if i := strings.Index(p, "/internal/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Markers around the generated part of docs/benchmarks.md; the prose around
// them is written by hand and kept.
const (
	BeginMarker = "<!-- bench:results:begin -->"
	EndMarker   = "<!-- bench:results:end -->"
)

// ErrNoMarkers: the document has no results section to replace.
var ErrNoMarkers = errors.New("loadgen: results markers not found")

// ReplaceSection puts section between the markers of the Markdown file at
// path.
func ReplaceSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := replaceBetween(string(b), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func replaceBetween(doc, section string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", ErrNoMarkers
	}
	return doc[:i+len(BeginMarker)] + "\n" + section + doc[j:], nil
}
