package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/gwbench"
)

func init() { register(newGWBenchCmd) }

// gwbench is a top-level command rather than `bench gateway` so that it
// lives in its own file without touching bench.go.
func newGWBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gwbench",
		Short: "Benchmark the gateway against direct access and NGINX, and render the results",
		Long: "gwbench drives a running gateway, its backends and NGINX from this process (run), renders\n" +
			"the result into docs/benchmarks.md (report), and can run the gateway with a pprof listener\n" +
			"for profiling (gateway). scripts/bench-gateway.sh starts every process and calls these.",
	}
	cmd.AddCommand(newGWBenchRunCmd(), newGWBenchReportCmd(), newGWBenchGatewayCmd(), newGWBenchEmergencyCmd(), newGWBenchRelayCmd())
	return cmd
}

func newGWBenchRunCmd() *cobra.Command {
	var (
		cfg gwbench.Config
		out string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Measure the gateway, the backend direct and NGINX; write the result as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.AdminToken == "" {
				cfg.AdminToken = os.Getenv(TokenEnv)
			}
			res, err := gwbench.Run(cmd.Context(), cfg, cmd.ErrOrStderr())
			if res != nil { // a failed run still writes what it measured
				return errors.Join(err, writeJSON(cmd, out, res))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Gateway.Addr, "gateway", "", "gateway edge address host:port (required)")
	f.IntVar(&cfg.Gateway.PID, "gateway-pid", 0, "gateway process id (required)")
	f.StringVar(&cfg.Direct.Addr, "direct", "", "blue backend's legacy service address host:port (required)")
	f.StringVar(&cfg.DirectSocketIO.Addr, "direct-socketio", "", "green backend's Socket.IO service address host:port: also measure Socket.IO clients, through the gateway at weight 100 and direct")
	f.StringVar(&cfg.NGINX.Addr, "nginx", "", "NGINX proxy address host:port (optional)")
	f.IntVar(&cfg.NGINX.PID, "nginx-pid", 0, "NGINX process id (with --nginx)")
	f.StringVar(&cfg.PeerName, "peer-name", "", `name of the proxy at --nginx in the report (default "NGINX"; "Go relay" for gwbench relay)`)
	f.IntVar(&cfg.BackendPID, "backend-pid", 0, "process id of the baton serve under test (required)")
	f.StringVar(&cfg.PublishURL, "publish-url", "", "backend publish endpoint, http://HOST:PORT/api/v1/publish (required)")
	f.StringVar(&cfg.AdminURL, "admin", "", "gateway admin API base URL, http://HOST:PORT (required)")
	f.StringVar(&cfg.AdminToken, "token", "", "admin bearer token (default $BATON_ADMIN_TOKEN)")
	f.StringVar(&cfg.GCURL, "gc-url", "", "URL making the gateway collect garbage before memory readings")
	f.StringVar(&cfg.VarsURL, "vars-url", "", "the gateway's expvar URL (/debug/vars on its pprof listener): the fan-out counts its allocations per relayed frame")
	f.StringVar(&cfg.PprofURL, "pprof-url", "", "gateway pprof base URL (with --profile-dir)")
	f.StringVar(&cfg.BackendPprofURL, "backend-pprof-url", "", "backend pprof base URL (with --profile-dir): its CPU profile over the handover")
	f.StringVar(&cfg.ProfileDir, "profile-dir", "", "directory for gateway heap and CPU profiles")
	f.DurationVar(&cfg.QuietWait, "quiet-wait", 0, "wait up to this long for a quiet machine (default 1m; negative: no wait)")
	f.IntVar(&cfg.Sessions, "sessions", 0, "idle sessions for memory and handover (default 10000)")
	f.IntVar(&cfg.NGINXSessions, "nginx-sessions", 0, "idle sessions for NGINX's memory reading (default and at most --sessions)")
	f.IntVar(&cfg.LatencySessions, "latency-sessions", 0, "sessions held per target in the round-trip phase (default 1000)")
	f.IntVar(&cfg.LatencyRounds, "latency-rounds", 0, "interleaved round-trip rounds (default 3)")
	f.DurationVar(&cfg.LatencyFor, "latency-for", 0, "round-trip time per target per round (default 3s)")
	f.IntVar(&cfg.FanoutSubs, "fanout-subs", 0, "fan-out subscribers per target (default 5000)")
	f.DurationVar(&cfg.FanoutWindow, "fanout-window", 0, "fan-out measuring window (default 8s)")
	f.IntVar(&cfg.FanoutRounds, "fanout-rounds", 0, "fan-out rounds per target, targets taking turns; the median round is reported (default 5)")
	f.BoolVar(&cfg.NoFanoutGreen, "no-fanout-green", false, "leave out the fan-out through green (the gateway at weight 100, after a migration)")
	f.IntVar(&cfg.Channels, "channels", 0, "channels the handover sessions spread over (default 200)")
	f.Float64Var(&cfg.PerSessionRate, "rate", 0, "messages/s each session receives during the handover (default 1)")
	f.Float64Var(&cfg.StressRate, "stress-rate", 0, "also move everyone back the other way at this per-session rate (0: no stress move)")
	f.BoolVar(&cfg.Reverse, "reverse", false, "also move every session back green→blue")
	f.BoolVar(&cfg.Prepared, "prepared", false, "also move the sessions blue→green with the connections prepared ahead (POST /api/v1/weight/prepare), beside the same move without")
	f.IntVar(&cfg.PreparedSessions, "prepared-sessions", 0, "sessions for the prepared moves (0: all; each holds three sockets at the gateway)")
	f.BoolVar(&cfg.SessionsSocketIO, "sessions-socketio", false, "the gateway's memory and handover sessions are Socket.IO clients (default: legacy)")
	f.IntVar(&cfg.Payload, "payload", 0, "bytes of a request frame and of published data (default 100)")
	f.StringSliceVar(&cfg.Skip, "skip", nil, "phases not to run: handover, latency, fanout (for working on one)")
	f.StringVarP(&out, "out", "o", "-", "write the JSON result here")
	return cmd
}

func newGWBenchReportCmd() *cobra.Command {
	var (
		doc   string
		opts  gwbench.ReportOptions
		notes []string
	)
	cmd := &cobra.Command{
		Use:   "report RESULT.json",
		Short: "Render a gwbench result as Markdown, or into the gateway section of a document",
		Args:  needArgs("the result file (RESULT.json)", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var r gwbench.Result
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			opts.Result = r
			opts.Notes = notes
			opts.Machine = machineLine(cmd.Context())
			var sb strings.Builder
			gwbench.Report(&sb, opts)
			if doc == "" {
				_, err := fmt.Fprint(cmd.OutOrStdout(), sb.String())
				return err
			}
			return gwbench.ReplaceSection(doc, sb.String())
		},
	}
	f := cmd.Flags()
	f.StringVar(&doc, "doc", "", "Markdown file whose gateway section is replaced (appended when missing)")
	f.StringVar(&opts.Command, "command", "bash scripts/bench-gateway.sh", "the command that produced the result")
	f.StringArrayVar(&notes, "note", nil, "extra line for the notes (repeatable)")
	return cmd
}

// newGWBenchGatewayCmd is `baton gateway` with its pprof listener on by
// default (127.0.0.1:0), kept under gwbench for scripts/bench-gateway.sh.
func newGWBenchGatewayCmd() *cobra.Command {
	cmd := gatewayCmd("127.0.0.1:0")
	cmd.Use = "gateway --config FILE --pprof ADDR"
	cmd.Short = "Run the gateway exactly as `baton gateway`, with --pprof on by default"
	return cmd
}

// newGWBenchRelayCmd runs gwbench.Relay: a byte-copying Go proxy that
// scripts/bench-gateway.sh can put in NGINX's place (GWBENCH_PEER=relay).
func newGWBenchRelayCmd() *cobra.Command {
	var listen, upstream string
	cmd := &cobra.Command{
		Use:   "relay --listen ADDR --upstream ADDR",
		Short: "Copy bytes between each client and the upstream, parsing nothing: the floor of a Go proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" || upstream == "" {
				return errors.New("gwbench relay: --listen and --upstream are required")
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "relay listening on %s → %s\n", ln.Addr(), upstream)
			return gwbench.Relay(cmd.Context(), ln, upstream)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on, host:port (required)")
	cmd.Flags().StringVar(&upstream, "upstream", "", "address to relay to, host:port (required)")
	return cmd
}
