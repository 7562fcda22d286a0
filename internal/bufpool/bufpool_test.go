package bufpool

import (
	"testing"

	"github.com/baton-rt/baton/internal/testenv"
)

// A buffer comes back empty and is reused; one that grew past the bound
// is not kept.
func TestPoolKeepsOnlySmallBuffers(t *testing.T) {
	if testenv.Race {
		t.Skip("sync.Pool drops items under the race detector")
	}
	p := New(16, 64)
	b := p.Get()
	*b = append(*b, "frame"...)
	p.Put(b)
	if again := p.Get(); again != b || len(*again) != 0 {
		t.Fatalf("got %p (len %d), want the buffer given back, empty", again, len(*again))
	}
	big := p.Get()
	*big = append(*big, make([]byte, 100)...)
	p.Put(big)
	if again := p.Get(); again == big {
		t.Fatal("a buffer grown past the bound was kept")
	}
	if n := testing.AllocsPerRun(100, func() { p.Put(p.Get()) }); n != 0 {
		t.Fatalf("%v allocations per Get and Put, want 0", n)
	}
}
