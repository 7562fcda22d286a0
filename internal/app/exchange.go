package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/rollout"
)

// Several gateways on one Redis store share their health, so that the
// holder's gates judge every gateway's traffic. Once a second each
// gateway on a Redis store (holder and followers) appends to a stream of
// its own the seconds of its health window completed since its last
// append, with the current partial second (health.Monitor.ExportSince),
// and its preservation counters:
//
//	<prefix>{store}:health:<gateway id>  stream, MAXLEN window+2: field d, an exchangeRecord in JSON
//	<prefix>{store}:health-gateways      sorted set: gateway id → Unix ms of its last append
//
// Both expire (exchangeTTL) when no one appends. The gateway running the
// controller reads the others' new entries every second and imports them
// (health.Monitor.Import): its gates' reader merges them. The admin API,
// the dashboard and /metrics stay this gateway's own.
//
// Redis away, a beat is skipped (logged at most every exchangeLogEvery):
// the gates read only memory, never Redis.

// exchangeInterval is the period of the exchange.
const exchangeInterval = time.Second

// exchangeLogEvery spaces the exchange's warnings.
const exchangeLogEvery = 30 * time.Second

// maxOwnerInID bounds the lease owner's part of a gateway id (the host
// name may be long).
const maxOwnerInID = 128

// exchangeRecord is one append: a gateway's new seconds and its
// preservation counters (monotonic per process).
type exchangeRecord struct {
	Pres    rollout.Preservation `json:"p"`
	Seconds []health.Second      `json:"s,omitempty"`
}

// exchange is a gateway's part of the health exchange.
type exchange struct {
	a        *App
	id       string // this gateway's: the lease owner and a random suffix
	base     string // <prefix>{store}:health
	gateways string // the sorted set of ids
	window   time.Duration
	after    int64 // ExportSince's argument for the next append

	read     map[string]string // source id → last stream id read
	loggedAt time.Time         // the last warning (one goroutine)

	mu    sync.Mutex
	peers map[string]*peer // the sources' latest counters, by id
	// gone sums the counters of sources forgotten for their silence, so
	// that the total only grows; retired keeps them by id (bounded) in
	// case a source comes back.
	gone    rollout.Preservation
	retired map[string]rollout.Preservation
}

type peer struct {
	pres rollout.Preservation
	seen time.Time // local clock, last new entry
}

func newExchange(a *App) *exchange {
	owner := a.owner()
	if len(owner) > maxOwnerInID {
		owner = owner[:maxOwnerInID]
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &exchange{
		a: a, id: owner + " " + hex.EncodeToString(b[:]),
		base: a.rstore.Key("health:"), gateways: a.rstore.Key("health-gateways"),
		window: a.monitor.Window(), after: 0,
		read: make(map[string]string), peers: make(map[string]*peer),
		retired: make(map[string]rollout.Preservation),
	}
}

// ttl is how long the keys live without appends: long enough for a new
// holder to find a window's seconds.
func (x *exchange) ttl() time.Duration { return 2*x.window + 5*time.Second }

// run appends and, on the gateway running the controller, reads, once
// per exchangeInterval until ctx ends.
func (x *exchange) run(ctx context.Context) {
	t := time.NewTicker(exchangeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		x.beat(ctx)
	}
}

// beat is one round: append, and read when this gateway runs the rollout.
func (x *exchange) beat(ctx context.Context) {
	bctx, cancel := context.WithTimeout(ctx, exchangeInterval)
	defer cancel()
	if err := x.push(bctx); err != nil && ctx.Err() == nil {
		x.warn("health exchange: this gateway's health not shared, Redis unreachable; skipped a beat", err)
	}
	if x.a.role.controller() == nil {
		return
	}
	if err := x.pull(bctx); err != nil && ctx.Err() == nil {
		x.warn("health exchange: the other gateways' health not read; the gates judge what they have", err)
	}
}

func (x *exchange) warn(msg string, err error) {
	if time.Since(x.loggedAt) >= exchangeLogEvery {
		x.loggedAt = time.Now()
		x.a.log.Warn(msg, "err", err)
	}
}

// push appends this gateway's new seconds and counters.
func (x *exchange) push(ctx context.Context) error {
	secs, cur := x.a.monitor.ExportSince(x.after)
	b, err := json.Marshal(exchangeRecord{Pres: x.a.ownPreservation(), Seconds: secs})
	if err != nil {
		return err
	}
	now := time.Now()
	key, ttl := x.base+x.id, x.ttl()
	_, err = x.a.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: int64(x.window/time.Second) + 2, Values: []any{"d", b}})
		p.PExpire(ctx, key, ttl)
		p.ZAdd(ctx, x.gateways, redis.Z{Score: float64(now.UnixMilli()), Member: x.id})
		p.ZRemRangeByScore(ctx, x.gateways, "-inf", strconv.FormatInt(now.Add(-ttl).UnixMilli(), 10))
		p.PExpire(ctx, x.gateways, ttl)
		return nil
	})
	if err != nil {
		return err
	}
	x.after = cur - 1 // the partial second goes again, whole
	return nil
}

// pull reads the other gateways' new entries and imports them.
func (x *exchange) pull(ctx context.Context) error {
	now := time.Now()
	ids, err := x.a.redis.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: x.gateways, Start: strconv.FormatInt(now.Add(-x.window).UnixMilli(), 10), Stop: "+inf",
		ByScore: true, Count: health.MaxSources + 2, // with this one, and one too many
	}).Result()
	if err != nil {
		return err
	}
	if len(ids) > health.MaxSources+1 {
		x.warn("health exchange: more gateways than the gates can merge; some are left out", errors.New("over "+strconv.Itoa(health.MaxSources)))
	}
	cmds := make(map[string]*redis.XMessageSliceCmd, len(ids))
	_, err = x.a.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			if id == x.id {
				continue
			}
			start := "-"
			if last, ok := x.read[id]; ok {
				start = "(" + last
			}
			cmds[id] = p.XRangeN(ctx, x.base+id, start, "+", int64(x.window/time.Second)+2)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for id := range x.read {
		if _, ok := cmds[id]; !ok {
			delete(x.read, id)
		}
	}
	for id, cmd := range cmds {
		msgs, err := cmd.Result()
		if err != nil || len(msgs) == 0 {
			continue
		}
		x.read[id] = msgs[len(msgs)-1].ID
		for _, m := range msgs {
			s, _ := m.Values["d"].(string)
			var rec exchangeRecord
			if json.Unmarshal([]byte(s), &rec) != nil {
				continue
			}
			if err := x.a.monitor.Import(id, rec.Seconds); err != nil {
				x.warn("health exchange: a gateway's health left out of the gates", err)
				break
			}
			x.seen(id, rec.Pres, now)
		}
	}
	return nil
}

// seen records a source's latest counters.
func (x *exchange) seen(id string, p rollout.Preservation, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if r, ok := x.retired[id]; ok { // back from a silence: live again
		delete(x.retired, id)
		x.gone = sub(x.gone, r)
	}
	x.peers[id] = &peer{pres: p, seen: now}
}

// total is the sum of the live sources' counters and of the forgotten
// ones'.
func (x *exchange) total(now time.Time) rollout.Preservation {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, p := range x.peers {
		if now.Sub(p.seen) <= x.window {
			continue
		}
		delete(x.peers, id)
		x.gone = add(x.gone, p.pres)
		if len(x.retired) < 4*health.MaxSources {
			x.retired[id] = p.pres
		}
	}
	t := x.gone
	for _, p := range x.peers {
		t = add(t, p.pres)
	}
	return t
}

func add(a, b rollout.Preservation) rollout.Preservation {
	return rollout.Preservation{
		MovesTried: a.MovesTried + b.MovesTried, SocketsKept: a.SocketsKept + b.SocketsKept,
		SubscriptionsTried: a.SubscriptionsTried + b.SubscriptionsTried, SubscriptionsKept: a.SubscriptionsKept + b.SubscriptionsKept,
	}
}

func sub(a, b rollout.Preservation) rollout.Preservation {
	return rollout.Preservation{
		MovesTried: a.MovesTried - b.MovesTried, SocketsKept: a.SocketsKept - b.SocketsKept,
		SubscriptionsTried: a.SubscriptionsTried - b.SubscriptionsTried, SubscriptionsKept: a.SubscriptionsKept - b.SubscriptionsKept,
	}
}
