package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// NodeGolden checks that testdata/golden.json in the test's package
// directory is exactly what `node testdata/gen.js` prints with the pinned
// official packages; otherwise it was edited by hand or the packages moved.
// pkg is the package's directory from the repository root, for the hint on
// how to regenerate. Without Node the test skips (or fails, see Node).
func NodeGolden(t testing.TB, pkg string) {
	t.Helper()
	node, _ := Node(t)
	out, err := exec.CommandContext(t.Context(), node, "testdata/gen.js").Output()
	if err != nil {
		t.Fatalf("gen.js: %v", err)
	}
	want, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("testdata/golden.json is stale: regenerate with node %[1]s/testdata/gen.js > %[1]s/testdata/golden.json", pkg)
	}
}
