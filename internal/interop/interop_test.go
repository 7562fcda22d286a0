package interop

import (
	"testing"
)

// scenarios lists what interop/scenario.js implements. The servers under
// test serve the protocol-suite handlers ("auth", "message" ->
// "message-back", "message-with-ack" on "/" and "/custom") and the
// reference pub/sub API (subscribe, unsubscribe, publish -> message on "/")
// side by side.
var scenarios = []string{
	"transport",         // connect, auth event, ack and echo burst; the transport used
	"acks",              // 20 acks in flight at once
	"binary",            // binary attachments in events and acks
	"namespace",         // "/" and "/custom" multiplexed, auth payloads
	"invalid-namespace", // CONNECT_ERROR "Invalid namespace"
	"server-disconnect", // DISCONNECT sent by the server
	"pubsub",            // subscribe/publish/message, seqs, since, unsubscribe, errors
	"room",              // two members on different transports get a publish
	"pipeline",          // 2000 publishes with acks at once; every ack and message back
}

// transports: WebSocket only, long-polling only, polling upgraded to
// WebSocket (the official client's default).
var transports = []string{"websocket", "polling", "upgrade"}

// runAll runs every scenario over every transport against srv.
func runAll(t *testing.T, srv server) {
	for _, sc := range scenarios {
		for _, tr := range transports {
			t.Run(sc+"/"+tr, func(t *testing.T) {
				t.Parallel()
				res := runScenario(t, srv, sc, tr)
				if !res.OK {
					t.Fatalf("%s over %s: %s", sc, tr, res.Error)
				}
				t.Logf("ok: %s", res.Details)
			})
		}
	}
}

// TestOfficialServer runs the scenarios against the official npm server:
// it proves that what they expect is the reference behaviour.
func TestOfficialServer(t *testing.T) {
	runAll(t, startRefServer(t))
}
