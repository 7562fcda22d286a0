package scenario

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// nodeFleet is one node process running many official socket.io-client
// connections (interop/scenario_fleet.js).
type nodeFleet struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan nodeLine // stdout, one decoded line each; closed at EOF
	stderr *lockedBuffer
	specs  []clientSpec
	ids    []string
	done   chan struct{}
}

// nodeLine is any line the fleet prints (see scenario_fleet.js).
type nodeLine struct {
	Event       string            `json:"event"`
	I           int               `json:"i"`
	ID          string            `json:"id"`
	Acks        map[string]uint64 `json:"acks"`
	MS          int               `json:"ms"`
	OK          bool              `json:"ok"`
	Received    int               `json:"received"`
	Errors      []string          `json:"errors"`
	Disconnects []string          `json:"disconnects"`
	Behind      map[string]string `json:"behind"`
	Scenario    string            `json:"scenario"`
	Error       string            `json:"error"`
	raw         string
}

// startNodeFleet starts the node process and connects every spec; it
// returns when all are subscribed.
func startNodeFleet(t *testing.T, edgeAddr string, specs []clientSpec, readyWait time.Duration) *nodeFleet {
	t.Helper()
	node, dir := testenv.Node(t)
	f := &nodeFleet{t: t, lines: make(chan nodeLine, 1024), stderr: new(lockedBuffer), specs: specs, ids: make([]string, len(specs)), done: make(chan struct{})}
	f.cmd = exec.Command(node, filepath.Join(dir, "scenario_fleet.js"), "--url", "http://"+edgeAddr,
		"--timeout", strconv.FormatInt(runBound(t).Milliseconds(), 10))
	f.cmd.Dir = dir
	f.cmd.Stderr = f.stderr
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var l nodeLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			l.raw = sc.Text()
			f.lines <- l
		}
	}()
	go func() {
		_ = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
		for range f.lines { // let the reader finish
		}
		if t.Failed() {
			t.Logf("--- node fleet stderr ---\n%s", tail(f.stderr.String(), 50))
		}
	})

	f.send(map[string]any{"cmd": "start", "clients": specs})
	deadline := time.After(readyWait)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				t.Fatalf("node fleet ended before all_ready: %s", f.stderr.String())
			}
			switch {
			case l.Event == "ready":
				f.ids[l.I] = l.ID
			case l.Event == "all_ready":
				t.Logf("node fleet: %d clients ready in %d ms", len(specs), l.MS)
				return f
			case l.Scenario != "":
				t.Fatalf("node fleet failed before all_ready: %s", l.raw)
			}
		case <-deadline:
			t.Fatalf("node fleet: not ready within %v", readyWait)
		}
	}
}

func (f *nodeFleet) send(cmd any) {
	f.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.stdin.Write(append(b, '\n')); err != nil {
		f.t.Fatalf("node fleet stdin: %v", err)
	}
}

func (f *nodeFleet) members() []member {
	out := make([]member, len(f.specs))
	for i, s := range f.specs {
		out[i] = member{id: f.ids[i], user: s.User, channels: sortedCopy(s.Channels)}
	}
	return out
}

// runBound is how long the node process may live: until the test's own
// deadline (go test -timeout), so that it never outlives the test, which
// kills it anyway on cleanup.
func runBound(t *testing.T) time.Duration {
	if d, ok := t.Deadline(); ok {
		return max(time.Until(d), time.Minute)
	}
	return 10 * time.Minute
}

// finish tells the fleet the final seqs and collects every client's
// result. The fleet waits for its clients to catch up for at most three
// quarters of wait, which leaves it the rest to print every client's line
// and the result line before wait expires.
func (f *nodeFleet) finish(last map[string]uint64, wait time.Duration) ([]clientResult, error) {
	f.send(map[string]any{"cmd": "finish", "last": last, "drain_ms": (wait * 3 / 4).Milliseconds()})
	results := make([]clientResult, 0, len(f.specs))
	deadline := time.After(wait)
	for {
		select {
		case l, ok := <-f.lines:
			if !ok {
				return results, fmt.Errorf("node fleet ended without a result line: %s", tail(f.stderr.String(), 20))
			}
			switch {
			case l.Event == "client":
				results = append(results, clientResult{
					User: f.specs[l.I].User, OK: l.OK, Received: l.Received,
					Errors: l.Errors, Disconnects: l.Disconnects, Behind: l.Behind,
				})
			case l.Scenario != "":
				if l.Error != "" {
					return results, fmt.Errorf("node fleet: %s", l.Error)
				}
				return results, nil
			}
		case <-deadline:
			return results, fmt.Errorf("node fleet: no result within %v", wait)
		}
	}
}

// summarize counts the bad results and reports the first few.
func summarize(t *testing.T, who string, results []clientResult) (bad, received int) {
	t.Helper()
	for _, r := range results {
		received += r.Received
		if r.OK {
			continue
		}
		if bad++; bad <= 5 {
			t.Errorf("%s client %s: errors %v, disconnects %v, behind %v", who, r.User, r.Errors, r.Disconnects, r.Behind)
		}
	}
	return bad, received
}
