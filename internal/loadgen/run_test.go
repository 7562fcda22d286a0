package loadgen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/testenv"
)

// smallConfig is a run small enough for a unit test on a shared machine.
func smallConfig(p Protocol, addr string, pid int) Config {
	return Config{
		Protocol: p, Addr: addr, PID: pid,
		Conns: 40, Subscribers: 20, DialConcurrency: 8,
		Idle: 100 * time.Millisecond, Settle: 10 * time.Millisecond,
		LatencyRate: 20, LatencyFor: 500 * time.Millisecond,
		InFlight: 2, MaxLag: 5, Warmup: 100 * time.Millisecond, Window: 500 * time.Millisecond,
		Drain: 10 * time.Second, QuietWait: -1,
	}
}

func checkResult(t *testing.T, res *Result) {
	t.Helper()
	if res.Idle.Conns != 40 || res.Idle.HandshakesPerSec <= 0 || res.Idle.RSSAfter <= 0 || res.Idle.ClientRSS <= 0 {
		t.Errorf("idle = %+v", res.Idle)
	}
	lat := res.Latency
	if lat.Published != 10 || lat.Delivered != 10*20 || lat.Lost != 0 || lat.Latency.Samples != 200 || lat.Latency.P50us <= 0 {
		t.Errorf("latency = %+v", lat)
	}
	sat := res.Saturate
	if sat.Published == 0 || sat.Delivered != sat.Published*20 || sat.Lost != 0 || sat.Dropped != 0 || sat.DeliveriesPerSec <= 0 {
		t.Errorf("saturation = %+v", sat)
	}
	if res.ServerPeakRSS <= 0 {
		t.Errorf("no peak RSS")
	}
}

func TestRunAgainstFake(t *testing.T) {
	addr := startFake(t, false)
	for _, p := range []Protocol{SocketIO, Legacy} {
		t.Run(string(p), func(t *testing.T) {
			res, err := Run(context.Background(), smallConfig(p, addr, os.Getpid()), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res)
			if p == SocketIO && res.Idle.Pings == 0 {
				t.Error("no Engine.IO heartbeat was answered")
			}
		})
	}
}

func TestRunRefusedSubscribe(t *testing.T) {
	addr := startFake(t, true)
	for _, p := range []Protocol{SocketIO, Legacy} {
		_, err := Run(context.Background(), smallConfig(p, addr, os.Getpid()), io.Discard)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: err = %v, want ErrRefused", p, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := smallConfig(SocketIO, "127.0.0.1:1", 1)
	good.Defaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"protocol": func(c *Config) { c.Protocol = "x" },
		"pid":      func(c *Config) { c.PID = 0 },
		"subs":     func(c *Config) { c.Subscribers = c.Conns + 1 },
		"payload":  func(c *Config) { c.PayloadSize = 10 },
	} {
		c := good
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
}

// TestRunAgainstNodePeer runs the benchmark peer (bench/node/server.js on
// the official socket.io) through a small run.
func TestRunAgainstNodePeer(t *testing.T) {
	node, _ := testenv.Node(t)
	script := filepath.Join(testenv.RepoRoot(), "bench", "node", "server.js")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--expose-gc", script, "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("node peer did not start: %q %v", line, err)
	}
	cfg := smallConfig(SocketIO, addr, cmd.Process.Pid)
	cfg.GCURL = "http://" + addr + "/debug/gc"
	res, err := Run(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res)
}
