// Package scenario holds Baton's multi-process scenario tests: the reference
// services run as two `baton serve` processes (blue legacy, green Socket.IO)
// over one Redis broker, the gateway runs as `baton gateway --config FILE`,
// and clients (Go legacy clients and a Node.js process driving the official
// socket.io-client) connect to it over loopback while a publisher writes to
// the shared broker and the test changes the weight through the admin API.
//
// The package has no code of its own besides this comment: everything lives
// in its _test.go files.
//
//	go test -race -count=1 ./internal/scenario/
//
// needs BATON_REDIS_ADDR (see internal/testenv) and node with
// interop/node_modules; the main scenario's size can be reduced for a quick
// run with BATON_SCENARIO_SESSIONS and BATON_SCENARIO_RATE (see
// scenario_test.go). TestScenarioChaos plays one fixed seed of combined
// faults, the same in every run; BATON_CHAOS_SEED replays another seed (or
// draws one with "random") and BATON_CHAOS_ROUNDS runs more (see
// chaos_test.go).
package scenario
