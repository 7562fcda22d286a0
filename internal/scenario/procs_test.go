package scenario

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one baton process in its own process group, killed with the
// test. Its combined output is kept and logged when the test fails.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// lockedBuffer is an io.Writer safe for the two pipes and the readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProc runs batonBin with args and waits until its output contains
// ready (a "... listening on" line), bounded.
func startProc(t *testing.T, name, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: new(lockedBuffer), done: make(chan struct{})}
	p.cmd = exec.Command(batonBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s (%s) ---\n%s", name, strings.Join(args, " "), tail(p.out.String(), 150))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), ready) {
		select {
		case <-p.done:
			t.Fatalf("%s exited before %q: %s", name, ready, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within 30s: %s", name, ready, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// signal sends sig to the process group.
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// kill sends SIGKILL to the process group and waits for the exit.
func (p *proc) kill() {
	if p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d lines cut]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// startBlue runs the legacy reference service on addr over the Redis broker.
func startBlue(t *testing.T, addr, redisAddr string, extra ...string) *proc {
	args := append([]string{"serve", "--legacy", addr, "--broker", "redis://" + redisAddr, "--drain", "100ms"}, extra...)
	return startProc(t, "blue", "legacy listening on", args...)
}

// startGreen runs the Socket.IO reference service on addr over the Redis
// broker.
func startGreen(t *testing.T, addr, redisAddr string, extra ...string) *proc {
	args := append([]string{"serve", "--socketio", addr, "--broker", "redis://" + redisAddr, "--drain", "100ms"}, extra...)
	return startProc(t, "green", "socketio listening on", args...)
}

// gatewayConfig is what the generated YAML file varies.
type gatewayConfig struct {
	Edge, Admin, Blue, Green string // addresses
	MovesPerSecond           int
	Concurrency              int
	HandoverTimeout          time.Duration
	QueueMessages            int
	QueueBytes               int
	MaxMessageBytes          int
	// BluePing is blue's heartbeat (backends.blue.ping_interval and
	// ping_timeout, both), 0 for the default.
	BluePing time.Duration
}

const adminToken = "scenario-token"

// startGateway writes the configuration and runs `baton gateway`.
func startGateway(t *testing.T, c gatewayConfig) *proc {
	t.Helper()
	var b strings.Builder
	writeBaseConfig(&b, c)
	b.WriteString("handover:\n")
	if c.MovesPerSecond > 0 {
		fmt.Fprintf(&b, "  moves_per_second: %d\n", c.MovesPerSecond)
	}
	if c.Concurrency > 0 {
		fmt.Fprintf(&b, "  concurrency: %d\n", c.Concurrency)
	}
	if c.HandoverTimeout > 0 {
		fmt.Fprintf(&b, "  timeout: %s\n", c.HandoverTimeout)
	}
	b.WriteString("edge:\n")
	if c.MaxMessageBytes > 0 {
		fmt.Fprintf(&b, "  max_message_bytes: %d\n", c.MaxMessageBytes)
	}
	if c.QueueMessages > 0 || c.QueueBytes > 0 {
		b.WriteString("  outbound_queue:\n")
		if c.QueueMessages > 0 {
			fmt.Fprintf(&b, "    messages: %d\n", c.QueueMessages)
		}
		if c.QueueBytes > 0 {
			fmt.Fprintf(&b, "    bytes: %d\n", c.QueueBytes)
		}
	}
	// The rollout store is the test's own: the default (baton.db in the
	// working directory) would land in the source tree and carry a
	// rollout's state from one run to the next.
	dir := t.TempDir()
	fmt.Fprintf(&b, "rollout:\n  store:\n    kind: bolt\n    path: %s\n", filepath.Join(dir, "baton.db"))
	path := writeConfig(t, dir, &b)
	return startProc(t, "gateway", "admin listening on", "gateway", "--config", path)
}

// writeBaseConfig writes what every scenario gateway's configuration
// begins with: the listeners, identity, both backends and weight 0.
func writeBaseConfig(b *strings.Builder, c gatewayConfig) {
	fmt.Fprintf(b, "listen: %s\nadmin:\n  listen: %s\n  token: %s\n", c.Edge, c.Admin, adminToken)
	b.WriteString("identity:\n  query: user\n")
	fmt.Fprintf(b, "backends:\n  blue:\n    url: ws://%s/ws\n    protocol: legacy\n    dial_timeout: 3s\n", c.Blue)
	if c.BluePing > 0 {
		fmt.Fprintf(b, "    ping_interval: %s\n    ping_timeout: %s\n", c.BluePing, c.BluePing)
	}
	fmt.Fprintf(b, "  green:\n    url: http://%s/socket.io/\n    protocol: socketio\n    dial_timeout: 3s\n", c.Green)
	b.WriteString("routing:\n  weight: 0\n  salt: scenario\n")
}

// writeConfig ends the configuration in b with the log section and writes
// it to dir/gateway.yaml, returning the path.
func writeConfig(t *testing.T, dir string, b *strings.Builder) string {
	t.Helper()
	b.WriteString("log:\n  level: info\n")
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var _ io.Writer = (*lockedBuffer)(nil)
