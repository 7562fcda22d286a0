package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/gateway"
)

func init() { register(newGatewayCmd) }

// gatewayDrain is how long a graceful shutdown spreads the client closes.
const gatewayDrain = edge.DefaultDrainPeriod

func newGatewayCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "gateway --config FILE",
		Short: "Run the gateway: hold client sessions and move them live between blue and green",
		Long: "gateway serves clients on listen (legacy WebSocket at /ws, Socket.IO at /socket.io/),\n" +
			"attaches each to blue or green by routing.weight, and serves the admin API on\n" +
			"admin.listen (PUT /api/v1/weight, GET /api/v1/status, GET /api/v1/sessions/{id}).\n" +
			"The configuration is described in docs/config.md; a bad file exits non-zero naming the field.\n\n" +
			"SIGINT or SIGTERM drains gracefully: clients are closed with 1001, spread over 5s.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGateway(cmd.Context(), path, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&path, "config", "", "gateway configuration file (YAML)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func runGateway(ctx context.Context, path string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log := gatewayLogger(cfg.Log, stderr)
	g, err := gateway.FromConfig(cfg, log)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Close(cctx)
	}()
	ed, err := edge.New(edge.Options{Gateway: g, Identity: cfg.Identity, Edge: cfg.Edge, DrainPeriod: gatewayDrain, Logger: log})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	api, err := admin.New(admin.Options{Gateway: g, Token: cfg.Admin.BearerToken(), Extra: func() any { return ed.Stats() }, Logger: log})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	edgeLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		_ = edgeLn.Close()
		return fmt.Errorf("gateway: admin.listen: %w", err)
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	edgeSrv := &http.Server{Handler: ed, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	adminSrv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	// Tests and scripts read these lines to find the ports of ":0".
	fmt.Fprintf(stdout, "edge listening on http://%s\n", edgeLn.Addr())
	fmt.Fprintf(stdout, "admin listening on http://%s\n", adminLn.Addr())

	errc := make(chan error, 2)
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{edgeSrv, edgeLn}, {adminSrv, adminLn}} {
		go func() {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		g.Check(cctx)
		st := g.Status().Backends
		log.Info("backends checked", "blue_up", st.Blue.Up, "green_up", st.Green.Up)
	}()

	select {
	case <-ctx.Done():
		log.Info("draining", "period", gatewayDrain)
	case err = <-errc:
		log.Error("listener failed, stopping", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), gatewayDrain+5*time.Second)
	defer cancel()
	_ = adminSrv.Shutdown(sctx)
	_ = edgeSrv.Shutdown(sctx) // stops new clients; hijacked ones are the edge's
	_ = ed.Shutdown(sctx)
	return err
}

// gatewayLogger builds the process log from the config's log section.
func gatewayLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
