package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/gwbench"
)

// newGWBenchEmergencyCmd is `baton gwbench emergency`: the emergency
// rollback timing against a running gateway (scripts/bench-emergency.sh
// starts the processes).
func newGWBenchEmergencyCmd() *cobra.Command {
	var (
		cfg      gwbench.EmergencyConfig
		out, doc string
		command  string
		fromJSON string
		notes    []string
	)
	cmd := &cobra.Command{
		Use:   "emergency",
		Short: "Time an emergency rollback of every session green→blue through a running gateway",
		Long: "emergency connects --sessions legacy clients through the gateway (which must stand at weight 0\n" +
			"with no rollout running), moves them all to green with a one-step rollout, publishes, then\n" +
			"sends POST /api/v1/rollout/emergency-rollback and polls GET /api/v1/status until every session\n" +
			"is on blue. It writes the result as JSON and, with --doc, renders it between the\n" +
			"emergency:results markers of that document (appended when missing). --from renders an\n" +
			"earlier JSON result instead of measuring.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var (
				res *gwbench.Emergency
				err error
			)
			if fromJSON != "" {
				b, rerr := os.ReadFile(fromJSON)
				if rerr != nil {
					return rerr
				}
				res = new(gwbench.Emergency)
				if jerr := json.Unmarshal(b, res); jerr != nil {
					return fmt.Errorf("%s: %w", fromJSON, jerr)
				}
			} else {
				if cfg.AdminToken == "" {
					cfg.AdminToken = os.Getenv(TokenEnv)
				}
				res, err = gwbench.RunEmergency(cmd.Context(), cfg, cmd.ErrOrStderr())
				if res == nil {
					return err
				}
				if err := errors.Join(err, writeJSON(cmd, out, res)); err != nil {
					return err
				}
			}
			if doc == "" {
				return nil
			}
			var sb strings.Builder
			gwbench.EmergencyReport(&sb, *res, command, machineLine(cmd.Context()), notes)
			return gwbench.ReplaceEmergencySection(doc, sb.String())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Gateway, "gateway", "", "gateway edge address host:port (required)")
	f.StringVar(&cfg.AdminURL, "admin", "", "gateway admin API base URL, http://HOST:PORT (required)")
	f.StringVar(&cfg.AdminToken, "token", "", "admin bearer token (default $"+TokenEnv+")")
	f.StringVar(&cfg.PublishURL, "publish-url", "", "a backend's publish endpoint, http://HOST:PORT/api/v1/publish (required)")
	f.IntVar(&cfg.Sessions, "sessions", 0, "sessions to move (default 9000)")
	f.IntVar(&cfg.Channels, "channels", 0, "channels the sessions spread over (default 200)")
	f.Float64Var(&cfg.PerSessionRate, "rate", 0, "messages/s each session receives (default 1)")
	f.IntVar(&cfg.SetupPace, "setup-pace", 0, "moves/s of the setup shift to green, not measured (default 2000)")
	f.DurationVar(&cfg.Poll, "poll", 0, "status poll period while waiting for blue (default 5ms)")
	f.StringVarP(&out, "out", "o", "-", "write the JSON result here")
	f.StringVar(&doc, "doc", "", "Markdown file whose emergency section is replaced (appended when missing)")
	f.StringVar(&command, "command", "bash scripts/bench-emergency.sh", "the command named in the rendered section")
	f.IntVar(&cfg.GatewayPID, "gateway-pid", 0, "gateway process id (its CPU is read; other processes are waited for)")
	f.IntVar(&cfg.BluePID, "blue-pid", 0, "blue (baton serve) process id")
	f.IntVar(&cfg.GreenPID, "green-pid", 0, "green (baton serve) process id")
	f.DurationVar(&cfg.QuietWait, "quiet-wait", 0, "wait up to this long for other processes to quieten before the command (default 1m; negative: no wait)")
	f.StringArrayVar(&notes, "note", nil, "extra paragraph for the rendered section (repeatable)")
	f.StringVar(&fromJSON, "from", "", "render this JSON result instead of measuring (with --doc)")
	return cmd
}
