package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/store"
)

// A lease gives one gateway the store, as the bbolt file's lock does for
// boltstore: a second gateway pointed at the same prefix is refused at
// startup instead of running a second controller on the same rollout.
//
// It is a key, <prefix>{store}:owner, holding the owner's name and a random
// token, set with NX and an expiry that the holder renews every third of
// it; beside it, for as long, <prefix>{store}:owner-meta holds what the
// holder asked to have told to the owners it refuses (LeaseOptions.Meta). A holder that dies lets it expire; a holder that cannot reach Redis
// keeps renewing and, once Redis answers again, takes the key back if it
// expired meanwhile and nobody else took it. The lease is lost only when
// another owner is found in the key, by a renewal or by a write (state or
// event) through the lease's FencedStore. During a partition longer than
// the lease two gateways may both believe they hold it, but only the one
// whose token is in the key can write the state or append events through
// its FencedStore: the other's write is refused (store.ErrLeaseLost), and
// its lease lost.

// ErrHeld: another owner holds the store's lease (see HeldError).
var ErrHeld = errors.New("redisstore: the store is held by another gateway")

// HeldError says who holds the lease and for how long at most.
type HeldError struct {
	Owner string
	// Meta is the holder's LeaseOptions.Meta; empty when it gave none (a
	// version of Baton before Meta among them).
	Meta string
	// Expires is how long the lease lasts if its owner stops renewing it.
	Expires time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("redisstore: the store is held by %q (its lease expires within %v unless renewed): one gateway per store", e.Owner, e.Expires.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrHeld) hold.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// takeScript sets KEYS[1] to ARGV[1] for ARGV[2] ms if it is missing or
// already holds ARGV[1], and KEYS[2] to the meta ARGV[3] for as long (an
// empty one deletes it): one script for the first take, every renewal and
// a take-back after an expiry. Reply: 1 taken, or the value found and its
// meta (nil when none).
var takeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
` + leaseSetLua("KEYS[1]", "KEYS[2]", "ARGV[1]", "ARGV[2]", "ARGV[3]") + `
  return 1
end
return {v, redis.call('GET', KEYS[2])}
`)

// leaseSetLua is Lua that sets the lease key ownerKey to owner for ttl ms
// and its meta key metaKey to meta for as long (an empty meta deletes
// it), the arguments being Lua expressions: the one way a script takes
// the lease, whether the first take, a renewal, or the take-back of an
// expired key by a fenced write (fenceLua), so that the meta never goes
// without its lease.
func leaseSetLua(ownerKey, metaKey, owner, ttl, meta string) string {
	return fmt.Sprintf(`  redis.call('SET', %[1]s, %[3]s, 'PX', %[4]s)
  if %[5]s == '' then
    redis.call('DEL', %[2]s)
  else
    redis.call('SET', %[2]s, %[5]s, 'PX', %[4]s)
  end`, ownerKey, metaKey, owner, ttl, meta)
}

// fenceLua is the fence of a write by a FencedStore, for a script whose
// KEYS[2] and KEYS[3] are the lease's key and its meta's (absent for an
// unfenced write) and whose ARGV[first], [first+1] and [first+2] are the
// lease's value, TTL in ms and meta. check refuses the write, replying
// {2, owner found}, when another owner holds the key; takeBack, run once
// the script is sure to write, takes back a key that expired with nobody
// taking it, as the lease's renewal would.
func fenceLua(first int) (check, takeBack string) {
	owner, ttl, meta := fmt.Sprintf("ARGV[%d]", first), fmt.Sprintf("ARGV[%d]", first+1), fmt.Sprintf("ARGV[%d]", first+2)
	check = `local o = KEYS[2] and redis.call('GET', KEYS[2])
if o and o ~= ` + owner + ` then
  return {2, o}
end`
	takeBack = "if o == false then\n" + leaseSetLua("KEYS[2]", "KEYS[3]", owner, ttl, meta) + "\nend"
	return check, takeBack
}

// releaseScript deletes KEYS[1], and its meta KEYS[2], if it holds ARGV[1].
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lease is a held lease; Release gives it back.
type Lease struct {
	s     *Store
	key   string
	value string // owner, a space, a random token
	meta  string // LeaseOptions.Meta, kept at metaKey
	ttl   time.Duration

	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error
	released atomic.Bool // Release began: no more fenced writes
	stop     context.CancelFunc
	done     chan struct{}
	release  sync.Once
	errorLog func(error)
}

// LeaseOptions tune Acquire.
type LeaseOptions struct {
	// TTL is how long the lease outlives its holder's last renewal; at
	// least 3 ms (renewals come every TTL/3).
	TTL time.Duration
	// OnRenewError, when set, is told of each renewal that failed for want
	// of Redis (the lease is kept and renewal goes on).
	OnRenewError func(error)
	// Meta, when not empty, is kept beside the lease while it is held and
	// handed to every owner it refuses (HeldError.Meta): what the owners
	// that share the store must agree on, so that one that does not can
	// tell.
	Meta string
}

// Acquire takes the store's lease for owner (a name for people: host and
// pid, say) and keeps it renewed until Release. It fails with a
// *HeldError when another owner holds it.
func (s *Store) Acquire(ctx context.Context, owner string, opts LeaseOptions) (*Lease, error) {
	if opts.TTL < 3*time.Millisecond {
		return nil, fmt.Errorf("redisstore: lease TTL %v, want at least 3ms", opts.TTL)
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var token [12]byte
	_, _ = rand.Read(token[:])
	l := &Lease{
		s: s, key: s.keyOwner, value: owner + " " + hex.EncodeToString(token[:]), meta: opts.Meta, ttl: opts.TTL,
		lost: make(chan struct{}), done: make(chan struct{}), errorLog: opts.OnRenewError,
	}
	if err := l.take(ctx); err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(context.Background())
	l.stop = stop
	go l.renew(rctx)
	return l, nil
}

// take runs takeScript once: nil when the lease is ours.
func (l *Lease) take(ctx context.Context) error {
	res, err := takeScript.Run(ctx, l.s.client, []string{l.key, l.s.keyOwnerMeta}, l.value, l.ttl.Milliseconds(), l.meta).Result()
	if err != nil {
		return l.s.wrap("lease", err)
	}
	if found, ok := res.([]any); ok && len(found) == 2 {
		owner, _ := found[0].(string)
		meta, _ := found[1].(string)
		return l.heldBy(ctx, owner, meta)
	}
	return nil
}

// heldBy is the HeldError for found, the lease key's value, with meta.
func (l *Lease) heldBy(ctx context.Context, found, meta string) *HeldError {
	held := &HeldError{Owner: ownerName(found), Meta: meta, Expires: l.ttl}
	if d, err := l.s.client.PTTL(ctx, l.key).Result(); err == nil && d > 0 {
		held.Expires = d
	}
	return held
}

// ownerName is the owner's name in v, the lease key's value: without its
// token.
func ownerName(v string) string {
	if i := strings.LastIndexByte(v, ' '); i > 0 {
		return v[:i]
	}
	return v
}

// Holder is who holds the lease now: its name, as Acquire was given it,
// and its Meta; nil when nobody does. A gateway that does not hold the
// lease learns so who does, whichever gateway took it last. Expires is
// left zero.
func (s *Store) Holder(ctx context.Context) (*HeldError, error) {
	vs, err := s.client.MGet(ctx, s.keyOwner, s.keyOwnerMeta).Result()
	if err != nil {
		return nil, s.wrap("lease holder", err)
	}
	owner, _ := vs[0].(string)
	if owner == "" {
		return nil, nil
	}
	meta, _ := vs[1].(string)
	return &HeldError{Owner: ownerName(owner), Meta: meta}, nil
}

// setLost records that another owner holds the lease: once, whether a
// renewal or a fenced write found it first.
func (l *Lease) setLost(err error) {
	l.lostOnce.Do(func() {
		l.lostErr = err
		close(l.lost)
	})
}

// lostTo is the error of a fenced write (op) that found owner in the
// lease key; the lease is lost.
func (l *Lease) lostTo(ctx context.Context, op, owner string) error {
	l.setLost(l.heldBy(ctx, owner, ""))
	return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrLeaseLost, l.Err())
}

// usable refuses a fenced write (op), without asking Redis, once the
// lease is known lost or released.
func (l *Lease) usable(op string) error {
	switch {
	case l.Err() != nil:
		return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrLeaseLost, l.Err())
	case l.released.Load():
		return fmt.Errorf("redisstore: %s: %w: released", op, store.ErrLeaseLost)
	}
	return nil
}

// testHookRenew and testHookFencedWrite, when set, run just before a
// renewal's script and just after a fenced write's check of its lease:
// tests hold those moments open with them.
var (
	testHookRenew       func(key string)
	testHookFencedWrite func()
)

// renew takes the lease again every third of its TTL until ctx ends or
// another owner is found in it.
func (l *Lease) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.lost: // a fenced write found another owner
			return
		case <-t.C:
		}
		if testHookRenew != nil {
			testHookRenew(l.key)
		}
		tctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		err := l.take(tctx)
		cancel()
		var held *HeldError
		switch {
		case errors.As(err, &held):
			l.setLost(err)
			return
		case err != nil && ctx.Err() == nil && l.errorLog != nil:
			l.errorLog(err)
		}
	}
}

// Lost is closed when another owner was found holding the lease, by a
// renewal or a fenced write: this process must stop acting on the store.
// Err says who.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is the reason the lease was lost, once Lost is closed; nil before.
func (l *Lease) Err() error {
	select {
	case <-l.lost:
		return l.lostErr
	default:
		return nil
	}
}

// Release stops the renewals and deletes the lease if it is still this
// one's, so that another gateway can take the store at once. It is safe to
// call more than once; only the first call acts. A lost lease is deleted
// too when the key names it: a renewal under way when the lease was lost
// takes the key back if the other owner has gone meanwhile.
func (l *Lease) Release(ctx context.Context) error {
	var err error
	l.release.Do(func() {
		l.released.Store(true)
		l.stop()
		<-l.done
		err = l.drop(ctx)
	})
	return err
}

// drop deletes the lease key if it holds this lease.
func (l *Lease) drop(ctx context.Context) error {
	return l.s.wrap("release lease", releaseScript.Run(ctx, l.s.client, []string{l.key, l.s.keyOwnerMeta}, l.value).Err())
}

// FencedStore is the Store with its writes of the rollout, the state and
// the event appends, fenced by a lease (see Lease.Fenced). Everything else
// is the Store's.
type FencedStore struct {
	*Store
	lease *Lease
}

// Fenced returns the lease's store whose CompareAndSetState and
// AppendEvent are made only while the lease key holds this lease: in the
// same Redis script as the write, so that a holder that has lost the
// lease and not noticed yet can neither overwrite what the new holder
// loaded nor add its own transitions to the event log the other gateways
// relay. A write that finds another owner writes nothing, fails with an
// error matching store.ErrLeaseLost and ErrHeld, and loses the lease
// (Lost); so does any write after that, or after Release.
func (l *Lease) Fenced() *FencedStore { return &FencedStore{Store: l.s, lease: l} }

// CompareAndSetState implements store.StateStore, fenced.
func (f *FencedStore) CompareAndSetState(ctx context.Context, expected uint64, blob []byte) (uint64, error) {
	return f.compareAndSetState(ctx, expected, blob, f.lease)
}

// AppendEvent implements store.EventLog, fenced.
func (f *FencedStore) AppendEvent(ctx context.Context, e store.Event) (uint64, error) {
	return f.appendEvent(ctx, e, f.lease)
}

// Unfenced is the store without the fence, for the writes that must be
// made whoever holds the lease (an emergency rollback's state and events).
func (f *FencedStore) Unfenced() store.Store { return f.Store }
