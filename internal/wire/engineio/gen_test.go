package engineio

import (
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
)

// The golden file must be what testdata/gen.js prints with the pinned
// official packages; otherwise it was edited by hand or the packages moved.
func TestGoldenUpToDate(t *testing.T) { testenv.NodeGolden(t, "internal/wire/engineio") }
