package router

import (
	"fmt"
	"sync/atomic"
)

// Color names a backend deployment.
type Color uint8

// The two deployments. Blue is the zero value: a user goes to green only
// when the table says so.
const (
	Blue Color = iota
	Green
)

// String returns "blue" or "green".
func (c Color) String() string {
	switch c {
	case Blue:
		return "blue"
	case Green:
		return "green"
	}
	return fmt.Sprintf("Color(%d)", uint8(c))
}

// Other returns the other deployment.
func (c Color) Other() Color {
	if c == Green {
		return Blue
	}
	return Green
}

// Table is one immutable routing decision: salt, weight and overrides. It is
// safe for concurrent use; change routing by building a new Table (WithWeight)
// and publishing it through a Router.
type Table struct {
	salt   string
	weight Weight
	allow  map[string]struct{} // forced green; shared between tables, never written
	deny   map[string]struct{} // forced blue; wins over allow
}

// NewTable returns a table. allow lists user keys forced to green, deny user
// keys forced to blue; a key in both is on blue. The lists are copied.
func NewTable(salt string, weight Weight, allow, deny []string) (*Table, error) {
	if !weight.Valid() {
		return nil, fmt.Errorf("%w: %d basis points: must be at most %d", ErrInvalidWeight, weight, Full)
	}
	return &Table{salt: salt, weight: weight, allow: set(allow), deny: set(deny)}, nil
}

func set(keys []string) map[string]struct{} {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

// Salt returns the table's salt.
func (t *Table) Salt() string { return t.salt }

// Weight returns the share of buckets on green.
func (t *Table) Weight() Weight { return t.weight }

// Bucket returns userKey's bucket under this table's salt.
func (t *Table) Bucket(userKey string) int { return Bucket(t.salt, userKey) }

// Backend returns the deployment that serves userKey: deny list → blue, allow
// list → green, otherwise green exactly when the bucket is below the weight.
func (t *Table) Backend(userKey string) Color {
	if c, ok := t.Override(userKey); ok {
		return c
	}
	return t.byBucket(t.Bucket(userKey))
}

// Override reports whether userKey is pinned by the deny or allow list, and
// to which deployment. Pinned users never move when the weight changes.
func (t *Table) Override(userKey string) (Color, bool) {
	if _, ok := t.deny[userKey]; ok {
		return Blue, true
	}
	if _, ok := t.allow[userKey]; ok {
		return Green, true
	}
	return Blue, false
}

func (t *Table) byBucket(bucket int) Color {
	if bucket < int(t.weight) {
		return Green
	}
	return Blue
}

// WithWeight returns a copy of t with another weight; salt and lists are
// shared.
func (t *Table) WithWeight(w Weight) (*Table, error) {
	if !w.Valid() {
		return nil, fmt.Errorf("%w: %d basis points: must be at most %d", ErrInvalidWeight, w, Full)
	}
	nt := *t
	nt.weight = w
	return &nt, nil
}

// Crosses reports whether a user in bucket changes deployment when the weight
// goes from oldW to newW, ignoring allow and deny lists: the bucket lies in
// [min(oldW, newW), max(oldW, newW)).
func Crosses(oldW, newW Weight, bucket int) bool {
	lo, hi := int(oldW), int(newW)
	if lo > hi {
		lo, hi = hi, lo
	}
	return bucket >= lo && bucket < hi
}

// Move tells where userKey goes when routing changes from prev to next: the
// new deployment, and whether it differs from the old one. It accounts for
// salt and lists, so it also covers tables that differ in more than weight.
func Move(prev, next *Table, userKey string) (to Color, moved bool) {
	from, to := prev.Backend(userKey), next.Backend(userKey)
	return to, from != to
}

// Change is one user that a routing change moves.
type Change struct {
	UserKey  string
	From, To Color
}

// Moves returns the users among keys whose deployment differs between prev
// and next, in the order of keys.
func Moves(prev, next *Table, keys []string) []Change {
	var out []Change
	for _, k := range keys {
		if from, to := prev.Backend(k), next.Backend(k); from != to {
			out = append(out, Change{UserKey: k, From: from, To: to})
		}
	}
	return out
}

// Router publishes the current Table. Readers get a consistent snapshot
// without locks; writers replace it atomically. The zero Router is not
// usable; call New.
type Router struct {
	cur atomic.Pointer[Table]
}

// New returns a Router serving t, which must not be nil.
func New(t *Table) *Router {
	r := &Router{}
	r.cur.Store(t)
	return r
}

// Table returns the current snapshot.
func (r *Router) Table() *Table { return r.cur.Load() }

// Backend routes userKey with the current snapshot.
func (r *Router) Backend(userKey string) Color { return r.cur.Load().Backend(userKey) }

// Set changes the weight, keeping salt and lists, and returns the tables
// before and after. The caller moves the sessions for which Move(prev, next,
// key) reports a change; using this exact pair (rather than reading Table
// again) keeps concurrent Set/Swap calls from hiding a step. A caller that
// instead compares every session's current backend with next.Backend(key)
// also retries sessions whose earlier move failed.
func (r *Router) Set(w Weight) (prev, next *Table, err error) {
	for {
		prev = r.cur.Load()
		if next, err = prev.WithWeight(w); err != nil {
			return prev, prev, err
		}
		if r.cur.CompareAndSwap(prev, next) {
			return prev, next, nil
		}
	}
}

// Swap replaces the whole table (for example after the allow or deny list
// changed) and returns the previous one. t must not be nil.
func (r *Router) Swap(t *Table) (prev *Table) { return r.cur.Swap(t) }
