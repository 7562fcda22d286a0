package service

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// historyTracker is a broker whose History answers carry fresh copies of
// the payloads (as the Redis broker's do), each watched through a weak
// pointer, so that a test can measure how many bytes of what History
// returned something still holds.
type historyTracker struct {
	broker.Broker
	mu   sync.Mutex
	held []trackedPayload
}

type trackedPayload struct {
	p   weak.Pointer[byte]
	n   int
	seq uint64
}

func (b *historyTracker) History(ctx context.Context, channel string, since uint64, limit int) ([]broker.Message, broker.Position, error) {
	msgs, pos, err := b.Broker.History(ctx, channel, since, limit)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range msgs {
		if len(msgs[i].Data) == 0 {
			continue
		}
		d := bytes.Clone(msgs[i].Data)
		msgs[i].Data = d
		b.held = append(b.held, trackedPayload{weak.Make(&d[0]), len(d), msgs[i].Seq})
	}
	return msgs, pos, err
}

// liveBytes collects garbage and returns how many payload bytes History
// returned are still reachable, and which seqs they are. A payload
// allocated or dropped while the collection runs may be counted: see
// settledBytes.
func (b *historyTracker) liveBytes() (n int, seqs []uint64, answered int) {
	runtime.GC()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.held {
		if h.p.Value() != nil {
			n += h.n
			seqs = append(seqs, h.seq)
		}
	}
	return n, seqs, len(b.held)
}

// answered is how many payloads History has returned.
func (b *historyTracker) answered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.held)
}

// settledBytes is liveBytes once the replay has stopped moving: two
// collections in a row find the same payloads reachable and no History
// answer came meanwhile (the client is not reading, so the replay waits).
func (b *historyTracker) settledBytes(t *testing.T, ctx context.Context) int {
	t.Helper()
	_, seqs, answered := b.liveBytes()
	for {
		n, seqs2, answered2 := b.liveBytes()
		if answered2 == answered && slices.Equal(seqs2, seqs) {
			return n
		}
		if ctx.Err() != nil {
			t.Fatalf("the replay never settled: %v", ctx.Err())
		}
		seqs, answered = seqs2, answered2
	}
}

// TestLegacyReplayMemoryBounded: a client that subscribes with since=0 to
// a channel whose history is many times its outbound queue, and reads it
// slowly, costs the service about its queue bound, not the whole history:
// the replay holds at most the queue plus one window of history at a time.
func TestLegacyReplayMemoryBounded(t *testing.T) {
	b, err := membroker.New(membroker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	testReplayMemoryBounded(t, b)
}

// TestLegacyReplayMemoryBoundedOverRedis is TestLegacyReplayMemoryBounded
// over the Redis broker, whose History returns fresh copies every time.
func TestLegacyReplayMemoryBoundedOverRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	b, err := redisbroker.New(testenv.Context(t, 30*time.Second), redisbroker.Options{
		Addr:   addr,
		Prefix: fmt.Sprintf("baton:test:replaymem:%d:", time.Now().UnixNano()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	testReplayMemoryBounded(t, b)
}

func testReplayMemoryBounded(t *testing.T, inner broker.Broker) {
	const (
		queueBytes = 1 << 20
		msgs       = 150
		dataBytes  = 60 << 10 // 150 × 60 KiB ≈ 9 MiB of history
	)
	ctx := testenv.Context(t, 60*time.Second)
	b := &historyTracker{Broker: inner}
	data := []byte(`"` + strings.Repeat("x", dataBytes-2) + `"`)
	for range msgs {
		if _, err := b.Publish(ctx, "big", data); err != nil {
			t.Fatal(err)
		}
	}
	l, url := startLegacyOver(t, b, Limits{OutboundBytes: queueBytes})
	c := dialSmallWindow(t, ctx, url)
	c.send(`{"type":"subscribe","channel":"big","since":0,"id":1}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 1 || f.Seq != msgs {
		t.Fatalf("got %s, want the ack with seq %d", legacy.Append(nil, f), msgs)
	}

	// The queue (and what its writer took from it) plus one window.
	bound := queueBytes + queueBytes/4
	peak := 0
	for i := range msgs {
		if i%25 == 0 { // the client pauses: what does its replay hold?
			peak = max(peak, b.settledBytes(t, ctx))
		}
		f := c.read()
		if f.Type != legacy.TypeMessage || f.Seq != uint64(i+1) || !bytes.Equal(f.Data, data) {
			t.Fatalf("frame %d: type %s seq %d, want message seq %d", i, f.Type, f.Seq, i+1)
		}
	}
	if peak > bound {
		t.Errorf("a replay of %d bytes of history held up to %d bytes of it for a slow client; want at most %d (queue %d plus a quarter)",
			msgs*len(data), peak, bound, queueBytes)
	}
	// Live after the replay.
	if _, err := b.Publish(ctx, "big", []byte(`"live"`)); err != nil {
		t.Fatal(err)
	}
	if f := c.read(); f.Type != legacy.TypeMessage || f.Seq != msgs+1 {
		t.Fatalf("got %s, want live message %d", legacy.Append(nil, f), msgs+1)
	}
	if n := l.Stats().SlowConsumers; n != 0 {
		t.Fatalf("slow consumers = %d, want 0", n)
	}
	t.Logf("peak history held by the replay: %d bytes (history %d, bound %d)", peak, msgs*len(data), bound)
}

// startLegacyOver starts a legacy service over b on loopback and returns
// it and its WebSocket URL.
func startLegacyOver(t *testing.T, b broker.Broker, lim Limits) (*Legacy, string) {
	t.Helper()
	lim.DrainPeriod = 50 * time.Millisecond
	l, err := NewLegacy(newHub(t, b, HubOptions{}), LegacyOptions{Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = l.Shutdown(ctx)
		srv.Close()
	})
	return l, "ws" + strings.TrimPrefix(srv.URL, "http") + LegacyPath
}

// dialSmallWindow dials url with a small TCP receive buffer, so that the
// kernel cannot take much of what the service sends off its hands while
// the client does not read, and reads the welcome.
func dialSmallWindow(t *testing.T, ctx context.Context, url string) *rawConn {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { _ = ws.CloseNow() })
	c := &rawConn{t: t, ws: ws}
	if f := c.read(); f.Type != legacy.TypeWelcome {
		t.Fatalf("first frame %+v, want welcome", f)
	}
	return c
}

// TestLegacyReplayOutrunByHistory: a client replaying a channel's history
// reads so slowly that the messages it has not got yet are trimmed from
// history meanwhile. It gets a gap-free prefix and then subscription_lost
// for the channel, never a skip to what is still retained.
func TestLegacyReplayOutrunByHistory(t *testing.T) {
	const (
		retained  = 150
		dataBytes = 60 << 10 // ≈ 9 MiB of history, against a 1 MiB queue
	)
	ctx := testenv.Context(t, 60*time.Second)
	b := &historyTracker{Broker: newBroker(t, membroker.Options{HistorySize: retained})}
	data := []byte(`"` + strings.Repeat("x", dataBytes-2) + `"`)
	for range retained {
		if _, err := b.Publish(ctx, "old", data); err != nil {
			t.Fatal(err)
		}
	}
	l, url := startLegacyOver(t, b, Limits{OutboundBytes: 1 << 20})
	c := dialSmallWindow(t, ctx, url)
	c.send(`{"type":"subscribe","channel":"old","since":0,"id":1}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 1 || f.Seq != retained {
		t.Fatalf("got %s, want the ack with seq %d", legacy.Append(nil, f), retained)
	}
	// Once the replay waits for the client, which reads nothing, the
	// whole history turns over.
	b.settledBytes(t, ctx)
	if n := b.answered(); n >= retained {
		t.Fatalf("the replay read all %d messages before the client read one", n)
	}
	for range retained {
		if _, err := b.Publish(ctx, "old", []byte(`"new"`)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		f := c.read()
		if f.Type == legacy.TypeError {
			if f.Code != legacy.CodeSubscriptionLost || f.Channel != "old" || i >= retained {
				t.Fatalf("after %d messages got %s, want subscription_lost for the channel", i, legacy.Append(nil, f))
			}
			break
		}
		if f.Type != legacy.TypeMessage || f.Seq != uint64(i+1) || !bytes.Equal(f.Data, data) {
			t.Fatalf("frame %d: type %s seq %d, want old message seq %d", i, f.Type, f.Seq, i+1)
		}
	}
	// The channel can be taken again, live.
	c.send(`{"type":"subscribe","channel":"old","id":2}`)
	if f := c.read(); f.Type != legacy.TypeAck || f.ID != 2 || f.Seq != 2*retained {
		t.Fatalf("got %s, want the ack with seq %d", legacy.Append(nil, f), 2*retained)
	}
	if n := l.Stats().SlowConsumers; n != 0 {
		t.Fatalf("slow consumers = %d, want 0", n)
	}
}
