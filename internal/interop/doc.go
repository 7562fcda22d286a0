// Package interop checks Baton's Socket.IO server against the official
// Socket.IO client, and the scenarios themselves against the official server.
//
// It holds tests only. Each test starts a server on 127.0.0.1:0 — Baton's
// reference Socket.IO service in-process, or interop/refserver.js (the npm
// socket.io server configured the same way) as the control — and runs
// interop/scenario.js, which drives the npm socket.io-client through one
// scenario and prints a JSON result line that the test checks. A scenario
// that fails against the control is a broken scenario, not a server bug.
//
// Node.js and interop/node_modules come from testenv.Node: under `make test`
// they are required, elsewhere their absence skips the tests.
package interop
