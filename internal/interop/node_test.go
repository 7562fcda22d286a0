package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// nodeRunTimeout bounds one node process; scenario.js has its own, shorter
// deadline so that it normally reports a result before being killed.
const nodeRunTimeout = 45 * time.Second

// serverRunTimeout bounds a node server shared by a whole test.
const serverRunTimeout = 3 * time.Minute

// The servers under test ping every second, so that heartbeats happen during
// the scenarios, but wait long for the pong and for the CONNECT packet: the
// protocol suites' 200 ms and 1 s would make a client stalled by a busy
// machine look like a dead one. Timing itself is the protocol suites' job.
const (
	pingInterval   = time.Second
	pingTimeout    = 10 * time.Second
	connectTimeout = 10 * time.Second
)

// nodeProc is a running node script whose stdout is read line by line. The
// process is killed and reaped when the test that started it ends.
type nodeProc struct {
	cmd    *exec.Cmd
	lines  chan []byte // stdout lines; closed at EOF
	done   chan struct{}
	stderr bytes.Buffer // read only after done

	stdinMu sync.Mutex
	stdin   io.WriteCloser

	waitErr error // set before done is closed
}

// startNode runs interop/<script> with args until the test ends or limit
// passes, whichever comes first.
func startNode(t *testing.T, limit time.Duration, script string, args ...string) *nodeProc {
	t.Helper()
	node, dir := testenv.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)

	p := &nodeProc{lines: make(chan []byte, 64), done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, script)}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 2 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("stdout pipe: %v", err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		cancel()
		t.Fatalf("stdin pipe: %v", err)
	}
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node %s: %v", script, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			select {
			case p.lines <- line:
			case <-ctx.Done():
			}
		}
		close(p.lines)
		p.waitErr = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.stdinMu.Lock()
		_ = p.stdin.Close()
		p.stdinMu.Unlock()
		cancel()
		// Drain so the reader can reach EOF and reap the process.
		for range p.lines {
		}
		<-p.done
		if t.Failed() && p.stderr.Len() > 0 {
			t.Logf("%s stderr:\n%s", script, p.stderr.String())
		}
	})
	return p
}

var errNodeExited = errors.New("node process ended")

// next returns the next stdout line, or an error when the process ended or
// nothing came within d.
func (p *nodeProc) next(d time.Duration) ([]byte, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.done
			return nil, fmt.Errorf("%w: %v", errNodeExited, p.waitErr)
		}
		return line, nil
	case <-timer.C:
		return nil, fmt.Errorf("no output from node within %v", d)
	}
}

// send writes one JSON command line to the process's stdin.
func (p *nodeProc) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write command: %w", err)
	}
	return nil
}

// line is one JSON line from scenario.js: a progress event or the result.
type line struct {
	Event string `json:"event"`
	ID    string `json:"id"`

	Scenario  string          `json:"scenario"`
	Transport string          `json:"transport"`
	OK        bool            `json:"ok"`
	Error     string          `json:"error"`
	Details   json.RawMessage `json:"details"`
}

// server is a Socket.IO server under test.
type server interface {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL() string
	// Disconnect makes the server disconnect the socket with this id from
	// the main namespace (a Socket.IO DISCONNECT sent by the server).
	Disconnect(ctx context.Context, id string) error
}

// runScenario runs scenario.js once and returns its result line, reacting
// to progress events on the way.
func runScenario(t *testing.T, srv server, name, transport string) line {
	t.Helper()
	p := startNode(t, nodeRunTimeout, "scenario.js", "--url", srv.URL(), "--name", name, "--transport", transport)
	for {
		raw, err := p.next(nodeRunTimeout)
		if err != nil {
			t.Fatalf("scenario %s/%s: %v", name, transport, err)
		}
		var l line
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Logf("node: %s", raw)
			continue
		}
		switch {
		case l.Scenario != "":
			return l
		case l.Event == "connected":
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := srv.Disconnect(ctx, l.ID)
			cancel()
			if err != nil {
				t.Fatalf("server-side disconnect of %s: %v", l.ID, err)
			}
		default:
			t.Logf("node event: %s", raw)
		}
	}
}

// refServer is interop/refserver.js: the official npm socket.io server.
type refServer struct {
	p   *nodeProc
	url string
}

func startRefServer(t *testing.T) *refServer {
	t.Helper()
	p := startNode(t, serverRunTimeout, "refserver.js", "--port", "0", "--host", "127.0.0.1", "--control", "stdin",
		"--ping-interval", fmt.Sprint(pingInterval.Milliseconds()),
		"--ping-timeout", fmt.Sprint(pingTimeout.Milliseconds()),
		"--connect-timeout", fmt.Sprint(connectTimeout.Milliseconds()))
	raw, err := p.next(15 * time.Second)
	if err != nil {
		t.Fatalf("refserver: %v", err)
	}
	var ready struct {
		Listening int `json:"listening"`
	}
	if err := json.Unmarshal(raw, &ready); err != nil || ready.Listening == 0 {
		t.Fatalf("refserver: unexpected first line %q", raw)
	}
	return &refServer{p: p, url: fmt.Sprintf("http://127.0.0.1:%d", ready.Listening)}
}

func (s *refServer) URL() string { return s.url }

func (s *refServer) Disconnect(_ context.Context, id string) error {
	return s.p.send(map[string]string{"cmd": "disconnect", "id": id})
}
