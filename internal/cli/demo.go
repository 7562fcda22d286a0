package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/baton-rt/baton/internal/demo"
)

func init() { register(newDemoCmd) }

// demoFlags are the options of `baton demo`.
type demoFlags struct {
	cfg     demo.Config
	fault   string
	json    bool
	verbose bool
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole rollout in one process: reference services, gateway, simulated clients, verification report",
		Long: "demo starts blue (legacy WebSocket service) and green (Socket.IO service) on a memory broker,\n" +
			"the gateway with its admin API and rollout controller, and simulated clients (half legacy,\n" +
			"half Socket.IO) that subscribe to channels, receive a sequenced stream and make requests.\n" +
			"It runs the rollout 10 → 25 → 50 → 75 → 100 % with short holds, shows its progress, and ends\n" +
			"with a verification report: sessions and subscriptions preserved, reconnects, messages lost,\n" +
			"duplicated or out of order, request errors and P95/P99 per backend, largest delivery pause.\n\n" +
			"--fault makes green misbehave to show the automatic rollback:\n" +
			"  green-latency=800ms   every publish reply of green comes 800 ms late\n" +
			"  green-errors=5%       green refuses 5 % of publishes\n" +
			"  green-crash-at=50     green dies abruptly once the 50 % step is applied\n\n" +
			"Exit code: 0 completed with every guarantee held; 2 every guarantee held but the rollout\n" +
			"rolled back (as --fault intends); 1 a guarantee broke or the demo could not run.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := refuseZeros(cmd.Flags(), &f); err != nil {
				return err
			}
			return runDemo(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.cfg.Clients, "clients", demo.DefaultClients, "simulated clients (half legacy, half Socket.IO)")
	fl.Float64Var(&f.cfg.Rate, "rate", demo.DefaultRate, "messages published per second, over all channels")
	fl.IntVar(&f.cfg.Channels, "channels", demo.DefaultChannels, "channels published on")
	fl.IntVar(&f.cfg.PerClient, "subscriptions", demo.DefaultPerClient, "channels each client subscribes to")
	fl.DurationVar(&f.cfg.RequestEvery, "request-every", demo.DefaultRequestEvery, "period of each client's requests (publish with ack)")
	fl.DurationVar(&f.cfg.Hold, "hold", demo.DefaultHold, "hold of each rollout step, also of the rollouts started under --keep-running (their own hold is not used)")
	fl.DurationVar(&f.cfg.Timeout, "timeout", demo.DefaultTimeout, "longest the rollout may run before the demo gives up")
	fl.StringVar(&f.fault, "fault", "", "fault injected into green: green-latency=800ms | green-errors=5% | green-crash-at=50")
	fl.BoolVar(&f.cfg.KeepRunning, "keep-running", false, "leave everything up after the report, for baton rollout and the admin API (prints the URL and token)")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON on stdout (progress goes to stderr)")
	fl.BoolVar(&f.verbose, "verbose", false, "log the components' warnings to stderr")
	return cmd
}

func runDemo(ctx context.Context, f demoFlags, stdout, stderr io.Writer) error {
	fault, err := demo.ParseFault(f.fault)
	if err != nil {
		return err
	}
	cfg := f.cfg
	cfg.Fault = fault
	progress := stdout
	if f.json {
		progress = stderr
	}
	cfg.Out, cfg.TTY = progress, isTerminal(progress)
	if f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.KeepRunning {
		cfg.Ready = func(ep demo.Endpoints) { printEndpoints(progress, ep) }
	}
	cfg.OnReport = func(r *demo.Report) {
		if f.json {
			_ = r.WriteJSON(stdout)
			return
		}
		_ = r.WriteTable(stdout)
	}
	start := time.Now()
	r, err := demo.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if code := r.ExitCode(); code != demo.ExitOK {
		msg := fmt.Sprintf("demo: rollout %s after %.1fs", r.Outcome, time.Since(start).Seconds())
		if !r.OK {
			msg = "demo: " + failedChecks(r)
		}
		return &exitError{code: code, msg: msg}
	}
	return nil
}

// printEndpoints tells a --keep-running demo's operator where the admin
// API and its dashboard are, and the token both take.
func printEndpoints(w io.Writer, ep demo.Endpoints) {
	fmt.Fprintf(w, "admin API: http://%s  token: %s\ndashboard: %s (asks for the token)\n", ep.Admin, ep.Token, ep.DashboardURL())
}

// failedChecks names the report's failed checks, with their details.
func failedChecks(r *demo.Report) string {
	var failed []string
	for _, c := range r.Checks {
		if !c.OK {
			failed = append(failed, c.Name+" ("+c.Detail+")")
		}
	}
	return "check failed: " + strings.Join(failed, "; ")
}

// refuseZeros refuses a zero given on the command line to a flag whose
// field the demo's configuration reads as "unset": it would run with the
// default, not with the zero asked for.
func refuseZeros(fl *pflag.FlagSet, f *demoFlags) error {
	for _, z := range []struct {
		flag string
		zero bool
		want string
	}{
		{"clients", f.cfg.Clients == 0, "1 to 100000"},
		{"rate", f.cfg.Rate == 0, "more than 0 messages per second"},
		{"channels", f.cfg.Channels == 0, "1 to 10000"},
		{"subscriptions", f.cfg.PerClient == 0, "1 to --channels"},
		{"request-every", f.cfg.RequestEvery == 0, "a positive duration"},
		{"hold", f.cfg.Hold == 0, "a positive duration"},
		{"timeout", f.cfg.Timeout == 0, "a positive duration"},
	} {
		if z.zero && fl.Changed(z.flag) {
			return fmt.Errorf("demo: --%s 0: want %s", z.flag, z.want)
		}
	}
	return nil
}
