package admin

import (
	"testing"

	"go.uber.org/goleak"
)

// The event stream runs in request handlers; every test must leave none
// behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
