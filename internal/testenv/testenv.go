// Package testenv finds the outside programs that integration tests use (a
// redis-server, Node.js with the interop packages) and decides whether a test
// skips or fails when one is missing: under `make test` (BATON_REQUIRE_*=1)
// a missing dependency is a failure, elsewhere a logged skip. It also holds
// the small fixtures every package's tests share, so each exists once: a
// context bounded by the test (Context), waiting for a condition (Poll,
// Eventually), a free loopback address (FreeAddr), the close status
// WebSocket clients see (CloseCodes), tracking a test server's handlers
// (Handlers), where encoding/json may differ from our flat-object readers
// (PlainJSONKeys), golden files made by the official packages
// (NodeGolden) and a loopback proxy in front of Redis that can cut, stall or
// refuse its connections (Proxy).
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RedisAddr returns the address of the Redis server started by `make test`
// (BATON_REDIS_ADDR), or skips the test.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("BATON_REDIS_ADDR")
	if addr == "" {
		missing(t, "BATON_REQUIRE_REDIS", "no Redis: set BATON_REDIS_ADDR or run `make test`")
	}
	return addr
}

// Node returns the node binary and the interop folder holding node_modules
// with the official socket.io packages, or skips the test.
func Node(t testing.TB) (node, dir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "BATON_REQUIRE_NODE", "node not found in PATH")
	}
	dir = filepath.Join(RepoRoot(), "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		missing(t, "BATON_REQUIRE_NODE", "interop/node_modules missing: run `make test` (npm ci in interop/)")
	}
	return node, dir
}

// RepoRoot is the module root, found from this source file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func missing(t testing.TB, requireVar, why string) {
	t.Helper()
	if os.Getenv(requireVar) == "1" {
		t.Fatalf("%s (required because %s=1)", why, requireVar)
	}
	t.Skip(why)
}
