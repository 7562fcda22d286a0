package socketio

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
)

// The golden file must be what testdata/gen.js prints with the pinned
// official packages; otherwise it was edited by hand or the packages moved.
func TestGoldenUpToDate(t *testing.T) {
	node, _ := testenv.Node(t)
	out, err := exec.CommandContext(t.Context(), node, "testdata/gen.js").Output()
	if err != nil {
		t.Fatalf("gen.js: %v", err)
	}
	want, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("testdata/golden.json is stale: regenerate with node internal/wire/socketio/testdata/gen.js > internal/wire/socketio/testdata/golden.json")
	}
}
