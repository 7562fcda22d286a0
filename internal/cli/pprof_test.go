package cli

import (
	"errors"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.2:6060", "[::1]:6060", "localhost:0"} {
		if err := checkLoopback(ok); err != nil {
			t.Errorf("checkLoopback(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{":6060", "0.0.0.0:6060", "10.0.0.1:6060", "example.com:6060", "127.0.0.1"} {
		if err := checkLoopback(bad); !errors.Is(err, errPprofAddr) {
			t.Errorf("checkLoopback(%q) = %v, want errPprofAddr", bad, err)
		}
	}
}
