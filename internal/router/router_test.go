package router

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The vectors were computed by an independent implementation (Python's
// hashlib), so this checks the documented definition, not just stability.
func TestBucketVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			Salt   string `json:"salt"`
			User   string `json:"user"`
			Bucket int    `json:"bucket"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Vectors) < 50 {
		t.Fatalf("only %d vectors", len(file.Vectors))
	}
	for _, v := range file.Vectors {
		if got := Bucket(v.Salt, v.User); got != v.Bucket {
			t.Errorf("Bucket(%q, %.20q) = %d, want %d", v.Salt, v.User, got, v.Bucket)
		}
		tbl, _ := NewTable(v.Salt, 0, nil, nil)
		if got := tbl.Bucket(v.User); got != v.Bucket {
			t.Errorf("Table.Bucket(%.20q) under salt %q = %d, want %d", v.User, v.Salt, got, v.Bucket)
		}
	}
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("user-%d", i)
	}
	return out
}

// Raising the weight step by step must never send a user back to blue, and
// every user must be on green exactly when its bucket is below the weight.
func TestMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	users := keys(1000)
	for round := range 20 {
		tbl, err := NewTable(fmt.Sprintf("salt-%d", round), 0, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		onGreen := make(map[string]bool)
		w := Weight(0)
		for w < Full {
			w += Weight(rng.IntN(3000) + 1)
			w = min(w, Full)
			next, err := tbl.WithWeight(w)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				c := next.Backend(u)
				if onGreen[u] && c != Green {
					t.Fatalf("round %d: %s went back to blue at weight %v", round, u, w)
				}
				if want := next.Bucket(u) < int(w); (c == Green) != want {
					t.Fatalf("round %d: %s bucket %d weight %v: got %v", round, u, next.Bucket(u), w, c)
				}
				onGreen[u] = c == Green
			}
			tbl = next
		}
		for _, u := range users {
			if !onGreen[u] {
				t.Fatalf("round %d: %s not on green at 100%%", round, u)
			}
		}
	}
}

// Over many keys the share on green follows the weight, and the buckets are
// spread evenly (chi-square over 100 groups of 100 buckets).
func TestDistribution(t *testing.T) {
	const n = 100_000
	users := keys(n)
	var groups [100]int
	buckets := make([]int, n)
	for i, u := range users {
		buckets[i] = Bucket("baton", u)
		groups[buckets[i]/100]++
	}
	// Backend agrees with bucket < weight (TestMonotone), so counting
	// buckets measures the share on green without hashing again.
	for _, pct := range []float64{0, 1, 10, 25, 50, 75, 99, 100} {
		w, _ := FromPercent(pct)
		green := 0
		for _, b := range buckets {
			if b < int(w) {
				green++
			}
		}
		share := 100 * float64(green) / n
		// Binomial standard deviation at n=100k is at most 0.16 points; one
		// point is more than six of them.
		if share < pct-1 || share > pct+1 {
			t.Errorf("weight %v: %.2f%% on green", w, share)
		}
	}
	chi := 0.0
	for _, c := range groups {
		d := float64(c) - n/100
		chi += d * d / (n / 100)
	}
	// 99 degrees of freedom: the 99.9th percentile is about 149.
	if chi > 149 {
		t.Errorf("bucket groups uneven: chi-square %.1f > 149", chi)
	}
}

func TestAllowDeny(t *testing.T) {
	both := "both-lists"
	tbl, err := NewTable("baton", 0, []string{"vip", both}, []string{"banned", both})
	if err != nil {
		t.Fatal(err)
	}
	full, _ := tbl.WithWeight(Full)
	for _, tc := range []struct {
		user       string
		at0, at100 Color
		pinned     bool
	}{
		{"vip", Green, Green, true},
		{"banned", Blue, Blue, true},
		{both, Blue, Blue, true}, // deny wins
		{"nobody-special", Blue, Green, false},
	} {
		if got := tbl.Backend(tc.user); got != tc.at0 {
			t.Errorf("%s at 0%%: %v, want %v", tc.user, got, tc.at0)
		}
		if got := full.Backend(tc.user); got != tc.at100 {
			t.Errorf("%s at 100%%: %v, want %v", tc.user, got, tc.at100)
		}
		if _, pinned := tbl.Override(tc.user); pinned != tc.pinned {
			t.Errorf("%s: pinned %v, want %v", tc.user, pinned, tc.pinned)
		}
		if _, moved := Move(tbl, full, tc.user); moved == tc.pinned {
			t.Errorf("%s: moved %v from 0%% to 100%%", tc.user, moved)
		}
	}
}

// Crosses (bucket arithmetic) and Move (full table evaluation) agree for
// users without overrides, in both directions.
func TestCrossesAgreesWithMove(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	users := keys(2000)
	base, _ := NewTable("baton", 0, nil, nil)
	for range 20 {
		oldW, newW := Weight(rng.IntN(int(Full)+1)), Weight(rng.IntN(int(Full)+1))
		oldT, _ := base.WithWeight(oldW)
		newT, _ := base.WithWeight(newW)
		var want []string
		for _, u := range users {
			to, moved := Move(oldT, newT, u)
			if moved != Crosses(oldW, newW, oldT.Bucket(u)) {
				t.Fatalf("%s bucket %d %v→%v: Move %v, Crosses disagrees", u, oldT.Bucket(u), oldW, newW, moved)
			}
			if moved {
				if wantTo := map[bool]Color{true: Green, false: Blue}[newW > oldW]; to != wantTo {
					t.Fatalf("%s %v→%v moved to %v", u, oldW, newW, to)
				}
				want = append(want, u)
			}
		}
		var got []string
		for _, c := range Moves(oldT, newT, users) {
			if c.From == c.To {
				t.Fatalf("change without move: %+v", c)
			}
			got = append(got, c.UserKey)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%v→%v: Moves returned %d users, want %d", oldW, newW, len(got), len(want))
		}
	}
}

func TestRouterSet(t *testing.T) {
	base, _ := NewTable("baton", 0, []string{"vip"}, nil)
	r := New(base)
	old, cur, err := r.Set(2500)
	if err != nil {
		t.Fatal(err)
	}
	if old != base || cur != r.Table() || cur.Weight() != 2500 || cur.Salt() != "baton" {
		t.Fatalf("Set returned old=%p new=%p (weight %v), router holds %p", old, cur, cur.Weight(), r.Table())
	}
	if r.Backend("vip") != Green {
		t.Fatal("allow list lost by Set")
	}
	if _, _, err := r.Set(Full + 1); err == nil || r.Table() != cur {
		t.Fatalf("invalid weight: err %v, table changed %v", err, r.Table() != cur)
	}
	if prev := r.Swap(base); prev != cur || r.Table() != base {
		t.Fatal("Swap did not replace the table")
	}
}

// Concurrent Set calls each get a distinct (old, new) pair and chain up: the
// new table of one is the old table of exactly one other, so no step is lost
// to a race. Run with -race.
func TestRouterSetConcurrent(t *testing.T) {
	base, _ := NewTable("baton", 0, nil, nil)
	r := New(base)
	const writers, steps = 4, 200
	type pair struct{ old, new *Table }
	pairs := make(chan pair, writers*steps)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for j := range steps {
				old, cur, err := r.Set(Weight((i*steps + j) % int(Full)))
				if err != nil {
					t.Error(err)
					return
				}
				pairs <- pair{old, cur}
			}
		})
	}
	wg.Go(func() {
		for range writers * steps {
			_ = r.Backend("reader")
		}
	})
	wg.Wait()
	close(pairs)
	next := make(map[*Table]*Table)
	for p := range pairs {
		if _, dup := next[p.old]; dup {
			t.Fatal("two Set calls replaced the same table")
		}
		next[p.old] = p.new
	}
	n, cur := 0, base
	for cur != r.Table() {
		cur = next[cur]
		n++
		if cur == nil {
			t.Fatal("chain of tables broken")
		}
	}
	if n != writers*steps {
		t.Fatalf("chain has %d steps, want %d", n, writers*steps)
	}
}

func TestColor(t *testing.T) {
	if Blue.String() != "blue" || Green.String() != "green" || Blue.Other() != Green || Green.Other() != Blue {
		t.Fatal("Color names or Other wrong")
	}
	if s := Color(7).String(); s != "Color(7)" {
		t.Fatalf("unknown color prints %q", s)
	}
}

// Keys around the 256-byte stack buffer take either hashing path; both must
// match the definition computed the plain way.
func TestBucketBufferBoundary(t *testing.T) {
	for n := 240; n < 270; n++ {
		key := strings.Repeat("k", n)
		sum := sha256.Sum256([]byte("baton\x00" + key))
		want := int(binary.BigEndian.Uint64(sum[:8]) % Buckets)
		if got := Bucket("baton", key); got != want {
			t.Fatalf("key of %d bytes: bucket %d, want %d", n, got, want)
		}
	}
}

func BenchmarkBackend(b *testing.B) {
	tbl, _ := NewTable("baton", 2500, []string{"vip"}, []string{"banned"})
	users := keys(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = tbl.Backend(users[i%len(users)])
	}
}

func BenchmarkRouterBackendParallel(b *testing.B) {
	tbl, _ := NewTable("baton", 2500, nil, nil)
	r := New(tbl)
	users := keys(1024)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = r.Backend(users[i%len(users)])
			i++
		}
	})
}
