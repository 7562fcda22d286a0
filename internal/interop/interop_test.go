package interop

import (
	"testing"
)

// mode is the server configuration a scenario needs.
type mode int

const (
	// suiteMode: the protocol-suite handlers ("auth", "message" ->
	// "message-back", "message-with-ack") on "/" and "/custom".
	suiteMode mode = iota
	// pubsubMode: the reference pub/sub API (subscribe, unsubscribe,
	// publish -> message) on "/".
	pubsubMode
)

// scenario is one run of interop/scenario.js.
type scenario struct {
	name string
	mode mode
}

// scenarios lists what scenario.js implements; every one runs over each
// transport (websocket only, polling only, polling upgraded to websocket).
var scenarios = []scenario{
	{"transport", suiteMode},         // connect, auth event, ack and echo burst
	{"acks", suiteMode},              // 20 acks in flight at once
	{"binary", suiteMode},            // binary attachments in events and acks
	{"namespace", suiteMode},         // "/" and "/custom" multiplexed, auth payloads
	{"invalid-namespace", suiteMode}, // CONNECT_ERROR "Invalid namespace"
	{"server-disconnect", suiteMode}, // DISCONNECT sent by the server
	{"pubsub", pubsubMode},           // subscribe/publish/message, seqs, since, errors
	{"room", pubsubMode},             // two members on different transports get a publish
}

var transports = []string{"websocket", "polling", "upgrade"}

// runAll runs every scenario over every transport against the servers that
// servers returns per mode.
func runAll(t *testing.T, servers func(mode) server) {
	for _, sc := range scenarios {
		for _, tr := range transports {
			t.Run(sc.name+"/"+tr, func(t *testing.T) {
				t.Parallel()
				res := runScenario(t, servers(sc.mode), sc.name, tr)
				if !res.OK {
					t.Fatalf("%s over %s: %s", sc.name, tr, res.Error)
				}
				t.Logf("ok: %s", res.Details)
			})
		}
	}
}

// TestOfficialServer runs the scenarios against the official npm server:
// it proves that what they expect is the reference behaviour.
func TestOfficialServer(t *testing.T) {
	ref := startRefServer(t)
	runAll(t, func(mode) server { return ref })
}
