package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/app"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/rollout"
)

func init() { register(newGatewayCmd) }

// gatewayDrain is how long a graceful shutdown spreads the client closes.
const gatewayDrain = edge.DefaultDrainPeriod

func newGatewayCmd() *cobra.Command { return gatewayCmd("") }

// gatewayCmd builds `baton gateway` with pprofDefault as the default of
// --pprof (empty: off); `baton gwbench gateway` is the same command with
// the listener on by default.
func gatewayCmd(pprofDefault string) *cobra.Command {
	var path, pprofAddr string
	var testMode bool
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run the gateway: hold client sessions and move them live between blue and green",
		Long: "gateway serves clients on listen (legacy WebSocket at /ws, Socket.IO at /socket.io/),\n" +
			"attaches each to blue or green by routing.weight, runs the rollout controller\n" +
			"(state in rollout.store, resumed after a restart) and serves the admin API on\n" +
			"admin.listen (weight, status, sessions, rollout commands, metrics, events, /metrics).\n" +
			"With a Redis rollout.store that another gateway holds, rollout.store.when_held says\n" +
			"whether this one exits, stands by for the store or follows that gateway's rollout.\n" +
			"The configuration is described in docs/config.md; a bad file exits non-zero naming the field.\n\n" +
			"SIGINT or SIGTERM drains gracefully: clients are closed with 1001, spread over 5s.\n" +
			"A gateway standing by for the store stops waiting and exits 0 as well.\n" +
			"The configuration is read once; there is no reload: SIGHUP ends the process at once,\n" +
			"without the drain. Restart with SIGTERM to apply a change.\n\n" +
			"--pprof ADDR serves net/http/pprof on a separate listener, for benchmarks\n" +
			"(scripts/bench-gateway.sh forces a GC and takes profiles through it); loopback only.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGatewayMode(cmd.Context(), path, testMode, pprofAddr, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "gateway configuration file (YAML)")
	cmd.Flags().BoolVar(&testMode, "test-mode", rollout.TestModeFromEnv(),
		"shorten every rollout hold to "+rollout.TestHold.String()+" (default from "+rollout.TestModeEnv+")")
	cmd.Flags().StringVar(&pprofAddr, "pprof", pprofDefault, pprofFlagUsage)
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func runGatewayMode(ctx context.Context, path string, testMode bool, pprofAddr string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(pprofAddr, stdout)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer stopPprof()
	log := gatewayLogger(cfg.Log, stderr)
	if cfg.Rollout.Store.Kind == config.StoreRedis {
		// go-redis logs through one process-wide logger (see serve).
		redis.SetLogger(redisLogger{log.With("component", "redis")})
	}
	a, err := app.Build(ctx, cfg, app.Options{Logger: log, TestMode: testMode, DrainPeriod: gatewayDrain})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Stopped by SIGTERM or SIGINT before it served, above all while
		// standing by for the store: a stop asked for, which a service
		// manager must not report as a failure, as for a serving gateway.
		log.Info("stopped before serving", "reason", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	// Tests and scripts read these lines to find the ports of ":0".
	fmt.Fprintf(stdout, "edge listening on http://%s\n", a.EdgeAddr())
	fmt.Fprintf(stdout, "admin listening on http://%s\n", a.AdminAddr())
	return a.Serve(ctx)
}

// gatewayLogger builds the process log from the config's log section.
func gatewayLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationString}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationString writes a duration as Go writes it ("5s"): the JSON
// handler would write nanoseconds (5000000000). ReplaceAttr also sees the
// attributes inside groups.
func durationString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
