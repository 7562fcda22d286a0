package app

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/rollout"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/sleep"
)

// Several gateways on one Redis store move in step. Each follower keeps a
// small record of the weight it has applied:
//
//	<prefix>{store}:applied:<gateway id>  appliedRecord in JSON, TTL exchange's
//
// written when it begins a weight change (busy), when it ends it (with its
// moves), and refreshed every second. The holder's shift (syncedShifter,
// the controller's Shifter) applies a weight to its own sessions, then
// waits until every live follower (one whose exchange appended within
// followerGone) records that weight applied and no change in progress, at
// most followersWait; a step's hold, a rollback's end, begin only then. A
// weight set by hand on the holder waits the same way (role.SetWeightByHand),
// except for a follower that has gone past it: a later stored weight (a
// rollout started at once) overtook it before that follower read it.
// The followers' moves of that change are added to the counts the
// shifter returns (step_applied, rollback_finished).
//
// An emergency rollback does not wait for the state: the holder writes
//
//	<prefix>{store}:emergency  emergencyNotice in JSON, TTL noticeTTL
//
// once the emergency is decided, before the state is stored, and every
// follower reads it at each poll. A follower whose stored state is the
// notice's rollout, last written before the notice, moves every session
// to blue at once, unpaced; a notice the state has since overtaken (a
// later write, another rollout) moves nobody.

// followerGone: a follower whose exchange has not appended for this long
// is not waited for.
const followerGone = 3 * exchangeInterval

// followersWait bounds how long the holder's shift waits for the
// followers; past it the holder goes on (logged).
const followersWait = time.Minute

// followersPoll is how often the holder reads the followers' records
// while it waits.
const followersPoll = 100 * time.Millisecond

// noticeTTL is how long an emergency notice lives.
const noticeTTL = time.Minute

// noticeWriteTimeout bounds the notice's write, which the storing of the
// emergency waits for.
const noticeWriteTimeout = time.Second

// appliedRecord is a follower's applied weight.
type appliedRecord struct {
	W    router.Weight `json:"w"`
	Busy bool          `json:"b,omitempty"` // a weight change in progress
	// V is the stored state's version whose weight this is (0: not from
	// the state: the notice, or the start); Moved and Failed are the
	// moves of the change that reached W.
	V      uint64 `json:"v,omitempty"`
	Moved  int    `json:"m,omitempty"`
	Failed int    `json:"f,omitempty"`
}

// emergencyNotice is the holder's emergency rollback, ahead of its state.
type emergencyNotice struct {
	ID string    `json:"id"` // the rollout
	At time.Time `json:"at"` // its rollback's start, by the holder's clock
}

func (a *App) appliedKey(id string) string { return a.rstore.Key("applied:" + id) }

func (a *App) noticeKey() string { return a.rstore.Key("emergency") }

// syncedShifter is the holder's shifter: its own moves, then the
// followers'.
type syncedShifter struct {
	shifter
	a *App

	mu      sync.Mutex
	counted map[string]uint64 // follower → the record version already counted
}

func (a *App) controllerShifter() rollout.Shifter {
	if a.exch == nil {
		return shifter{a.gw}
	}
	return a.newSyncedShifter()
}

func (a *App) newSyncedShifter() *syncedShifter {
	return &syncedShifter{shifter: shifter{a.gw}, a: a, counted: make(map[string]uint64)}
}

func (s *syncedShifter) SetWeight(ctx context.Context, w router.Weight) (int, int, error) {
	return s.SetWeightPaced(ctx, w, 0)
}

func (s *syncedShifter) SetWeightPaced(ctx context.Context, w router.Weight, movesPerSecond int) (int, int, error) {
	since := s.storedVersion(ctx)
	moved, failed, err := s.shifter.SetWeightPaced(ctx, w, movesPerSecond)
	if err != nil {
		return moved, failed, err
	}
	// Not overtakable: any later write of the state calls the driver's
	// shift off (its ctx), which ends this wait.
	fm, ff, err := s.waitFollowers(ctx, w, since, false)
	return moved + fm, failed + ff, err
}

// storedVersion is the stored state's version: a follower's record of
// this version or later is of this change.
func (s *syncedShifter) storedVersion(ctx context.Context) uint64 {
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	defer cancel()
	st, err := s.a.st.GetState(rctx)
	if err != nil {
		return 0
	}
	return st.Version
}

// waitFollowers waits until every live follower has applied w, and
// returns their moves of this change (records of version since or later,
// each counted once) and the moves to w that still fail, counted at each
// call whatever the record's version: a rollback tries again while some
// fail, and reports the sessions left on green, the followers' too. With
// overtakable (since is then the version w was stored in), a follower
// whose record is of a later version at another weight is not waited
// for: that write overtook w before the follower applied it (it applies
// only the newest state it reads), so it never will.
func (s *syncedShifter) waitFollowers(ctx context.Context, w router.Weight, since uint64, overtakable bool) (moved, failed int, err error) {
	deadline := time.Now().Add(followersWait)
	for {
		pending, recs, rerr := s.followers(ctx, w, since, overtakable)
		if rerr == nil && pending == 0 {
			s.mu.Lock()
			for id, r := range recs {
				// Sessions still off w are left there now, whichever
				// change's record says so: one moved by the emergency
				// notice has no version yet.
				failed += r.Failed
				if since == 0 || r.V < since {
					continue
				}
				if s.counted[id] != r.V {
					s.counted[id] = r.V
					moved += r.Moved
				}
			}
			s.mu.Unlock()
			return moved, failed, nil
		}
		if !time.Now().Before(deadline) {
			s.a.log.Warn("rollout: followers still moving to the weight; going on without them", "weight_percent", w.Percent(), "pending", pending, "err", rerr, "waited", followersWait)
			return 0, 0, nil
		}
		if err := sleep.For(ctx, followersPoll); err != nil {
			return 0, 0, err
		}
	}
}

// followers reads the live followers' records: how many have not applied
// w yet, and the records of those that have (see waitFollowers for since
// and overtakable).
func (s *syncedShifter) followers(ctx context.Context, w router.Weight, since uint64, overtakable bool) (int, map[string]appliedRecord, error) {
	a, x := s.a, s.a.exch
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	defer cancel()
	ids, err := a.redis.ZRangeArgs(rctx, redis.ZRangeArgs{
		Key: x.gateways, Start: strconv.FormatInt(time.Now().Add(-followerGone).UnixMilli(), 10), Stop: "+inf", ByScore: true,
	}).Result()
	if err != nil {
		return 0, nil, err
	}
	keys := make([]string, 0, len(ids))
	others := ids[:0]
	for _, id := range ids {
		if id != x.id {
			keys, others = append(keys, a.appliedKey(id)), append(others, id)
		}
	}
	if len(keys) == 0 {
		return 0, nil, nil
	}
	vals, err := a.redis.MGet(rctx, keys...).Result()
	if err != nil {
		return 0, nil, err
	}
	pending, recs := 0, make(map[string]appliedRecord, len(others))
	for i, v := range vals {
		var r appliedRecord
		sv, ok := v.(string)
		switch {
		case !ok || json.Unmarshal([]byte(sv), &r) != nil:
			pending++
		case overtakable && r.V > since && r.W != w:
			// Gone past w: nothing of it to wait for, nor to count.
		case r.Busy || r.W != w:
			pending++
		default:
			recs[others[i]] = r
		}
	}
	return pending, recs, nil
}

// noticeEmergency writes the emergency notice (Options.OnEmergency),
// within noticeWriteTimeout.
func (a *App) noticeEmergency(st rollout.State) {
	b, err := json.Marshal(emergencyNotice{ID: st.ID, At: st.RollbackAt})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), noticeWriteTimeout)
	defer cancel()
	if err := a.redis.Set(ctx, a.noticeKey(), b, noticeTTL).Err(); err != nil {
		a.log.Warn("emergency rollback: the followers' notice not written; they follow the stored state", "err", err)
	}
}

// readNotice reads the emergency notice; ok false when there is none.
func (a *App) readNotice(ctx context.Context) (emergencyNotice, bool) {
	rctx, cancel := context.WithTimeout(ctx, followInterval*4)
	defer cancel()
	b, err := a.redis.Get(rctx, a.noticeKey()).Bytes()
	var n emergencyNotice
	if err != nil || json.Unmarshal(b, &n) != nil {
		if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
			a.log.Debug("follower: emergency notice not read", "err", err)
		}
		return n, false
	}
	return n, true
}
