package cli

import (
	"context"
	"strings"
	"testing"
)

// TestWeightCLI: `baton weight set` and `baton weight prepare` send the
// weight given to the admin API and print its answer; a weight that is
// not a number, or that the API refuses, fails naming the problem.
func TestWeightCLI(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx := context.Background()
	conn := []string{"--admin", srv.URL, "--token", cliToken}

	out, err := baton(ctx, append([]string{"weight", "set", "25"}, conn...)...)
	if err != nil || strings.TrimSpace(out) != "weight 25%: 2500 moved, 0 failed" {
		t.Errorf("weight set 25: %v %q", err, out)
	}
	out, err = baton(ctx, append([]string{"weight", "prepare", "12.5"}, conn...)...)
	if err != nil || strings.TrimSpace(out) != "weight 12.5% prepared: 1250 connections, 1 failed" {
		t.Errorf("weight prepare 12.5: %v %q", err, out)
	}
	out, err = baton(ctx, append([]string{"weight", "prepare", "50", "--json"}, conn...)...)
	if err != nil || strings.TrimSpace(out) != `{"weight":50,"prepared":5000,"failed":1}` {
		t.Errorf("weight prepare 50 --json: %v %q", err, out)
	}
	if _, err := baton(ctx, append([]string{"weight", "set", "half"}, conn...)...); err == nil || !strings.Contains(err.Error(), `"half"`) {
		t.Errorf("weight set half: %v", err)
	}
	if _, err := baton(ctx, append([]string{"weight", "set", "101"}, conn...)...); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("weight set 101: %v, want the API's 400", err)
	}
	if _, err := baton(ctx, "weight", "set", "10", "--admin", srv.URL, "--token", "wrong"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("weight set with a bad token: %v, want 401", err)
	}
}

// TestWeightCLIPercentSign: the CLI prints weights as `25%`, so `weight
// set 25%` and `weight prepare 12.5%` take them back as typed.
func TestWeightCLIPercentSign(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx := context.Background()
	conn := []string{"--admin", srv.URL, "--token", cliToken}

	out, err := baton(ctx, append([]string{"weight", "set", "25%"}, conn...)...)
	if err != nil || strings.TrimSpace(out) != "weight 25%: 2500 moved, 0 failed" {
		t.Errorf("weight set 25%%: %v %q", err, out)
	}
	out, err = baton(ctx, append([]string{"weight", "prepare", "12.5%"}, conn...)...)
	if err != nil || strings.TrimSpace(out) != "weight 12.5% prepared: 1250 connections, 1 failed" {
		t.Errorf("weight prepare 12.5%%: %v %q", err, out)
	}
	if _, err := baton(ctx, append([]string{"weight", "set", "25%%"}, conn...)...); err == nil || !strings.Contains(err.Error(), `"25%%"`) {
		t.Errorf("weight set 25%%%%: %v", err)
	}
}

// TestWeightCLINonFinite: NaN and the infinities that strconv reads are
// no weights either; the CLI names them as it names "half", rather than
// sending a body that is not JSON.
func TestWeightCLINonFinite(t *testing.T) {
	srv, _, _ := adminServer(t)
	ctx := context.Background()
	conn := []string{"--admin", srv.URL, "--token", cliToken}
	for _, arg := range []string{"NaN", "Inf", "infinity", "+Inf%"} {
		if _, err := baton(ctx, append([]string{"weight", "set", arg}, conn...)...); err == nil || !strings.Contains(err.Error(), `"`+arg+`"`) {
			t.Errorf("weight set %s: %v", arg, err)
		}
	}
}
