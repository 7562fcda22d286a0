package gateway_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestE2ENodeClientHeldOverflowDisconnects: under edge.overflow
// disconnect, the messages a backend sends for a subscribe before its ack
// (see TestReplayBeforeAckLongerThanQueue), more at once than the
// client's queue holds, overflow what the gateway holds for the ack. The
// official npm socket.io-client is then closed as a slow consumer
// (counted; to it, a `disconnect` with reason "transport close"), and
// gets nothing out of order or twice before that; nothing is dropped, and
// the session goes with its backend connection and the goroutines that
// served it (interop/held_overflow_client.js).
func TestE2ENodeClientHeldOverflowDisconnects(t *testing.T) {
	node, dir := testenv.Node(t)
	const n = 12 // far more than the queue's 4 messages, in one burst
	srv, url := backendtest.HistoryBeforeAck(t, eio.Config{QueuePackets: 4 * n, QueueBytes: 1 << 20}, n, strconv.Itoa)
	e := setupWrapped(t, router.Full, nil, func(upstream.Dialer) upstream.Dialer {
		return &upstream.SocketIODialer{Options: upstream.Options{URL: url}}
	})
	f := startFront(t, e, edge.Options{
		Edge: config.Edge{
			MaxMessageBytes: 64 << 10,
			OutboundQueue:   config.Queue{Messages: 4, Bytes: 64 << 10},
			Overflow:        config.OverflowDisconnect,
		},
	})

	ctx := testenv.Context(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "held_overflow_client.js"),
		"--url", "http://"+f.edgeAddr, "--user", "joiner", "--channel", "room")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var last struct {
		OK      bool   `json:"ok"`
		Error   string `json:"error"`
		Details struct {
			Seqs   []uint64          `json:"seqs"`
			Acks   []json.RawMessage `json:"acks"`
			Reason string            `json:"reason"`
		} `json:"details"`
	}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		_ = json.Unmarshal(sc.Bytes(), &last)
	}
	if err != nil || !last.OK {
		t.Fatalf("node: %v, result %+v, stderr %s", err, last, stderr.String())
	}
	d := last.Details
	t.Logf("the client got seqs %v, acks %s, then disconnect %q; edge %+v", d.Seqs, d.Acks, d.Reason, f.edge.Stats())
	if d.Reason != "transport close" {
		t.Errorf("disconnect reason %q, want %q (the server closed the connection)", d.Reason, "transport close")
	}
	for i, seq := range d.Seqs {
		if seq != uint64(i+1) {
			t.Fatalf("seqs %v before the close: want 1, 2, … each once, in order", d.Seqs)
		}
	}
	if len(d.Acks) > 1 || len(d.Acks) == 1 && len(d.Seqs) != n {
		t.Errorf("acks %s with seqs %v: the ack comes once, after every message held for it", d.Acks, d.Seqs)
	}
	if st := f.edge.Stats(); st.SlowConsumers != 1 || st.Dropped != 0 {
		t.Errorf("edge %+v: want one slow consumer, nothing dropped", st)
	}
	testenv.Eventually(t, "the session, its backend connection and its goroutines gone", 10*time.Second, func() bool {
		return len(e.g.Sessions()) == 0 && f.edge.Stats().SocketIO == 0 && srv.Of("/").Len() == 0 &&
			!goroutineIn("internal/sioclient.", "internal/session.")
	})
}

// goroutineIn reports whether a goroutine runs code of any of pkgs.
func goroutineIn(pkgs ...string) bool {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, p := range pkgs {
		if strings.Contains(stacks, p) {
			return true
		}
	}
	return false
}
