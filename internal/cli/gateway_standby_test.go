package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/upstream/backendtest"
)

// TestStandbyGatewayStoppedBySignalExitsZero: a gateway standing by for
// a Redis store another holds (rollout.store.when_held: standby) and
// stopped by SIGTERM or SIGINT has stopped as asked: it exits 0, as a
// serving gateway does, so that a service manager does not report a
// failure for a normal stop.
func TestStandbyGatewayStoppedBySignalExitsZero(t *testing.T) {
	addr := testenv.RedisAddr(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "batontest:cli:" + hex.EncodeToString(b[:]) + ":"
	raw := redis.NewClient(&redis.Options{Addr: addr})
	defer raw.Close()
	defer raw.Del(context.Background(), prefix+"{store}:owner")
	if err := raw.Set(context.Background(), prefix+"{store}:owner", "gw-a pid 1 admin 10.0.0.5:9090 0044", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	br, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = br.Close() }()
	blue, green := backendtest.Legacy(t, br), backendtest.SocketIO(t, br)
	cfg := writeConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: %q, token: secret}
backends:
  blue: {url: %q, protocol: legacy}
  green: {url: %q, protocol: socketio}
rollout: {store: {kind: redis, url: "redis://%s", prefix: %q, lease: 1s, when_held: standby}}
log: {level: info}
`, testenv.FreeAddr(t), blue.URL, green.URL, addr, prefix))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := execute(ctx, []string{"gateway", "--config", cfg}, io.Discard, io.MultiWriter(pw, &stderr))
		pw.Close()
		done <- code
	}()
	standing := false
	sc := bufio.NewScanner(pr)
	for !standing && sc.Scan() {
		standing = strings.Contains(sc.Text(), "standing by")
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !standing {
		t.Fatalf("the gateway did not stand by; exit code %d", <-done)
	}
	cancel() // the signal
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("a standby stopped by its signal exited %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not stop within 10s of its signal")
	}
}
