package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/loadgen"
)

func init() { register(newBenchCmd) }

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a pub/sub service (load generator) and render the results",
		Long: "bench drives one running service from this process and measures its memory per idle\n" +
			"connection, handshake rate and broadcast fan-out; scripts/bench.sh runs it against every\n" +
			"service and renders docs/benchmarks.md with `bench report`.",
	}
	cmd.AddCommand(newBenchRunCmd(), newBenchReportCmd())
	return cmd
}

func newBenchRunCmd() *cobra.Command {
	var (
		cfg     loadgen.Config
		proto   string
		out     string
		cpuProf string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Measure one running service and write the result as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Protocol = loadgen.Protocol(proto)
			if cpuProf != "" {
				stop, err := startCPUProfile(cpuProf)
				if err != nil {
					return err
				}
				defer stop()
			}
			res, err := loadgen.Run(cmd.Context(), cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return writeJSON(cmd, out, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Name, "name", "", "label of the service in the report (default: the protocol)")
	f.StringVar(&proto, "proto", string(loadgen.SocketIO), "wire protocol: socketio or legacy")
	f.StringVar(&cfg.Addr, "addr", "", "service address host:port (required)")
	f.IntVar(&cfg.PID, "pid", 0, "server process id, for RSS and CPU from /proc (required)")
	f.StringVar(&cfg.GCURL, "gc-url", "", "URL fetched before each memory reading to make the server collect garbage")
	f.StringVar(&cfg.PprofURL, "pprof-url", "", "base URL of the server's pprof handlers (with --profile-dir)")
	f.StringVar(&cfg.ProfileDir, "profile-dir", "", "directory for heap and CPU profiles of the server")
	f.DurationVar(&cfg.QuietWait, "quiet-wait", 0, "longest wait for other processes to go quiet before starting (default 2m; negative: don't wait)")
	f.Float64Var(&cfg.QuietBelow, "quiet-below", 0, "quiet means other processes use fewer cores than this (default 0.3)")
	f.IntVar(&cfg.Conns, "conns", 10000, "idle connections for the memory reading")
	f.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "dials in flight while connecting")
	f.IntVar(&cfg.SourceIPs, "source-ips", 1, "spread dials over 127.0.0.1..N (needed past ~28k connections)")
	f.DurationVar(&cfg.Idle, "idle", 0, "how long connections sit idle before the reading (default 5s)")
	f.DurationVar(&cfg.Settle, "settle", 0, "wait after a GC before reading RSS (default 2s)")
	f.IntVar(&cfg.Subscribers, "subs", 5000, "subscribers of the fan-out channel")
	f.StringVar(&cfg.Channel, "channel", "bench", "fan-out channel")
	f.IntVar(&cfg.PayloadSize, "payload", 100, "bytes of published data JSON")
	f.IntVar(&cfg.LatencyRate, "rate", 5, "publishes per second in the latency phase")
	f.DurationVar(&cfg.LatencyFor, "latency-for", 0, "length of the latency phase (default 10s)")
	f.IntVar(&cfg.InFlight, "in-flight", 4, "concurrent publishes at saturation")
	f.IntVar(&cfg.MaxLag, "max-lag", 50, "at saturation, stay at most this many messages ahead of the average subscriber")
	f.DurationVar(&cfg.Warmup, "warmup", 0, "saturation time before the window (default 2s)")
	f.DurationVar(&cfg.Window, "window", 0, "saturation measuring window (default 10s)")
	f.DurationVar(&cfg.Drain, "drain", 0, "longest wait for in-flight deliveries after a phase (default 15s)")
	f.StringVarP(&out, "out", "o", "-", "write the JSON result here")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the load generator itself here")
	return cmd
}

// writeJSON writes v as indented JSON to out, or to the command's output
// when out is "" or "-".
func writeJSON(cmd *cobra.Command, out string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out == "" || out == "-" {
		_, err = cmd.OutOrStdout().Write(b)
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// machineLine describes this machine in one line for the gateway sections.
func machineLine(ctx context.Context) string {
	m := loadgen.DescribeMachine(ctx)
	return fmt.Sprintf("%d CPUs (%s), %.1f GiB memory, Linux %s, %s",
		m.CPUs, m.CPUModel, float64(m.MemTotal)/(1<<30), m.Kernel, m.Go)
}

// startCPUProfile profiles this process, to check that the load generator is
// cheap next to the server it measures.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func newBenchReportCmd() *cobra.Command {
	var (
		opts    loadgen.ReportOptions
		doc     string
		results []string
		micro   string
	)
	cmd := &cobra.Command{
		Use:   "report RESULT.json...",
		Short: "Render run results and codec micro-benchmarks as Markdown",
		Long: "report renders the results of `bench run` (first the Socket.IO service under test, then the\n" +
			"Node peer, then any others) and the output of `go test -bench` as Markdown. With --doc it\n" +
			"replaces the part of that file between the results markers; otherwise it prints.",
		Args: needArgs("the result files (RESULT.json...)", 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			results = args
			for _, name := range results {
				b, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				var r loadgen.Result
				if err := json.Unmarshal(b, &r); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				opts.Results = append(opts.Results, r)
			}
			if micro != "" {
				b, err := os.ReadFile(micro)
				if err != nil {
					return err
				}
				opts.Micro = loadgen.ParseGoBench(string(b))
			}
			opts.Machine = loadgen.DescribeMachine(cmd.Context())
			var sb strings.Builder
			loadgen.Report(&sb, opts)
			if doc == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), sb.String())
				return err
			}
			return loadgen.ReplaceSection(doc, sb.String())
		},
	}
	f := cmd.Flags()
	f.StringVar(&micro, "micro", "", "output of go test -bench -benchmem for the codec table")
	f.StringVar(&opts.Command, "command", "make bench", "the command that produced the results")
	f.StringVar(&opts.Notes, "notes", "", "extra line for the machine notes (e.g. CPU pinning)")
	f.StringVar(&doc, "doc", "", "Markdown file whose results section is replaced")
	return cmd
}
