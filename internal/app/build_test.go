package app

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baton-rt/baton/internal/store/boltstore"
)

// TestBuildFailsCleanly: a Build that fails half-way (the edge's address
// taken by another process, the store's file held by another gateway)
// returns its error and releases what it opened, instead of panicking on
// the way out.
func TestBuildFailsCleanly(t *testing.T) {
	blue, green := testBackends(t)

	t.Run("address in use", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		cfg := testConfig(blue, green, "")
		cfg.Listen, cfg.Admin.Listen = busy.Addr().String(), "127.0.0.1:0"
		a, err := Build(context.Background(), cfg, Options{Logger: testLogger(t)})
		if a != nil || err == nil || !strings.Contains(err.Error(), "app: listen") {
			t.Fatalf("Build on a busy address: app %v, err %v; want no app and an error naming listen", a, err)
		}
	})

	t.Run("store locked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "baton.db")
		first := start(t, testConfig(blue, green, path), Options{})
		defer first.stop()
		opts := Options{Logger: testLogger(t)}
		cfg := testConfig(blue, green, path)
		listeners(t, cfg, &opts)
		a, err := Build(context.Background(), cfg, opts)
		if a != nil || !errors.Is(err, boltstore.ErrLocked) {
			t.Fatalf("Build on a locked store: app %v, err %v; want no app and ErrLocked", a, err)
		}
	})
}
