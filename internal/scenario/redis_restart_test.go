package scenario

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/sleep"
	"github.com/baton-rt/baton/internal/testenv"
)

// TestScenarioBackendKilledRightAfterRedisRestart is a combination the
// chaos scenario found: the broker's Redis restarts (with AOF, so every
// stream survives), and blue is SIGKILLed right after Redis is back. Blue's
// sessions re-attach to green, which had none of their channels open: its
// broker must take those subscribes although its reader is still backing
// off from the outage. No client may be closed.
func TestScenarioBackendKilledRightAfterRedisRestart(t *testing.T) {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not in PATH: the scenario runs its own")
	}
	_ = testenv.RedisAddr(t)
	rs := startRedis(t, redisBin, testenv.FreeAddr(t), t.TempDir())
	c := startCluster(t, clusterOptions{prefix: "rr-", redis: rs.addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	channels := c.channels(4)
	f := startFleets(t, ctx, c, 10, 0, channels, 2)
	n := len(f.members)

	// Down long enough for the services' brokers to back off: their
	// readers dial again after pauses doubling from 50 ms, and are in one
	// of 1.6 s when Redis is back.
	rs.restart(t, 1700*time.Millisecond)
	c.blue.kill()
	st := c.waitStatus(t, 30*time.Second, func(st admin.Status) bool {
		return st.Moves.Drops >= uint64(n) && st.Moves.Reattached+st.Moves.ReattachFailed >= st.Moves.Drops
	})
	if st.Moves.ReattachFailed != 0 || st.Sessions.Green != n {
		t.Errorf("after blue's end: sessions %+v moves %+v, want all %d re-attached to green", st.Sessions, st.Moves, n)
	}
	pub := startPublisher(c.broker, channels, 50)
	_ = sleep.For(ctx, 500*time.Millisecond)
	f.verify(t, pub.stop())
}

// redisProc is a redis-server of the test's own, with AOF persistence
// (appendfsync always), so that a restart keeps every stream.
type redisProc struct {
	bin, addr, dir string
	p              *exec.Cmd
	done           chan struct{}
	out            *lockedBuffer
}

func startRedis(t *testing.T, bin, addr, dir string) *redisProc {
	t.Helper()
	r := &redisProc{bin: bin, addr: addr, dir: dir}
	r.start(t)
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("--- output of redis-server ---\n%s", tail(r.out.String(), 30))
		}
	})
	return r
}

func (r *redisProc) start(t *testing.T) {
	t.Helper()
	_, port, _ := strings.Cut(r.addr, ":")
	r.out = new(lockedBuffer)
	r.p = exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no")
	r.p.Stdout, r.p.Stderr = r.out, r.out
	r.p.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.p.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	r.done = done
	go func(p *exec.Cmd) {
		_ = p.Wait()
		close(done)
	}(r.p)
	rdb := redis.NewClient(&redis.Options{Addr: r.addr})
	defer func() { _ = rdb.Close() }()
	testenv.Eventually(t, "redis-server at "+r.addr, 20*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err() == nil
	})
}

func (r *redisProc) kill() {
	if r.p == nil || r.p.Process == nil {
		return
	}
	_ = syscall.Kill(-r.p.Process.Pid, syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}

// restart kills the server and starts it again on its port and directory
// after down.
func (r *redisProc) restart(t *testing.T, down time.Duration) {
	t.Helper()
	r.kill()
	time.Sleep(down)
	r.start(t)
}
