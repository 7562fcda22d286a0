package cli

import (
	"bytes"
	"testing"

	"github.com/baton-rt/baton/internal/demo"
)

// TestDemoPrintsTheDashboard: `baton demo --keep-running` prints the
// dashboard's URL next to the admin API's address and token.
func TestDemoPrintsTheDashboard(t *testing.T) {
	var out bytes.Buffer
	printEndpoints(&out, demo.Endpoints{Admin: "127.0.0.1:9091", Token: "tok"})
	want := "admin API: http://127.0.0.1:9091  token: tok\n" +
		"dashboard: http://127.0.0.1:9091/dashboard/ (asks for the token)\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}
