package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/admin"
)

func init() { register(newWeightCmd) }

func newWeightCmd() *cobra.Command {
	f := &rolloutFlags{}
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "weight",
		Short: "Set the share of users on green by hand, or prepare it ahead",
		Long: "weight changes a running gateway's weight outside a rollout (see docs/api.md,\n" +
			"PUT /api/v1/weight and POST /api/v1/weight/prepare). The token comes from\n" +
			"--token or " + TokenEnv + ".",
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.admin, "admin", "http://127.0.0.1:9090", "admin API base URL")
	pf.StringVar(&f.token, "token", "", "admin bearer token (default $"+TokenEnv+")")
	pf.BoolVar(&f.json, "json", false, "print the API's JSON answer")
	// The answer comes once the moves (or dials) are done; giving up
	// earlier stops those not started yet.
	pf.DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the moves (or dials) to be done")
	run := func(cmd *cobra.Command, method, path, percent string, out any, summary func() string, cutOff string) error {
		ctx, cancel := withLimit(cmd.Context(), "--timeout", timeout)
		defer cancel()
		err := runWeightCommand(ctx, f, method, path, percent, out, cmd.OutOrStdout(), summary)
		if na := (*noAnswerError)(nil); errors.As(err, &na) && na.sent {
			// Only a request the gateway received changed anything; say
			// what of it may stand, as the operator cannot see it (nor
			// can the CLI: the answer would have said).
			err = fmt.Errorf("%w. %s", err, cutOff)
		}
		return err
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "set PERCENT",
		Short:   "Apply a weight; returns once the sessions it moves have moved",
		Example: "  baton weight set 25\n  baton weight set 25%",
		Args:    needArgs("the weight (0-100)", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res admin.WeightResult
			return run(cmd, http.MethodPut, "/api/v1/weight", args[0], &res, func() string {
				return fmt.Sprintf("weight %v%%: %d moved, %d failed", res.Weight, res.Moved, res.Failed)
			}, "The gateway answers once the sessions the weight moves have moved; "+
				"a change whose caller goes away stops short: the weight stays applied, "+
				"the moves already made stand, and the others (under way or not started yet) are not made; "+
				"but if it was still waiting for another weight change, the weight is not applied at all "+
				"(docs/api.md, PUT /api/v1/weight). GET /api/v1/status shows the weight in force. "+
				"Set the weight again, with a longer --timeout, to move the rest")
		},
	}, &cobra.Command{
		Use:   "prepare PERCENT",
		Short: "Dial ahead the connections a weight would move sessions onto, without applying it",
		Long: "prepare readies the next weight change: the sessions that weight would move get\n" +
			"their connection to the other backend now, so that the change itself only\n" +
			"resubscribes them. It serves the next change only (handover.prepare_ttl bounds the wait).",
		Example: "  baton weight prepare 50 && baton weight set 50",
		Args:    needArgs("the weight (0-100)", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res admin.PrepareResult
			return run(cmd, http.MethodPost, "/api/v1/weight/prepare", args[0], &res, func() string {
				return fmt.Sprintf("weight %v%% prepared: %s, %d failed", res.Weight, count(res.Prepared, "connection"), res.Failed)
			}, "The gateway answers once the dials are done; "+
				"a preparation whose caller goes away stops short: the connections already dialed stay prepared "+
				"for the next weight change, and the others are not dialed "+
				"(docs/api.md, POST /api/v1/weight/prepare). Prepare again, with a longer --timeout, to dial the rest")
		},
	})
	return cmd
}

// runWeightCommand sends {"weight": percent} and prints the answer, decoded
// into out, as summary says (or the raw JSON with --json).
func runWeightCommand(ctx context.Context, f *rolloutFlags, method, path, percent string, out any, w io.Writer, summary func() string) error {
	body, err := weightBody(percent)
	if err != nil {
		return err
	}
	c, err := f.client()
	if err != nil {
		return err
	}
	raw, err := c.call(ctx, method, path, body, out)
	if err != nil {
		return err
	}
	if f.json {
		_, err = w.Write(raw)
		return err
	}
	_, err = fmt.Fprintln(w, summary())
	return err
}

// weightBody is the request body {"weight": N} for the weight argument
// percent. A trailing % is accepted: weights are printed that way. The API
// judges the range; NaN and the infinities, which JSON cannot carry, are
// refused here.
func weightBody(percent string) ([]byte, error) {
	p, err := strconv.ParseFloat(strings.TrimSuffix(percent, "%"), 64)
	if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
		return nil, fmt.Errorf("weight %q: want a percentage such as 25, 25%% or 12.5", percent)
	}
	return []byte(`{"weight":` + strconv.FormatFloat(p, 'f', -1, 64) + `}`), nil
}
