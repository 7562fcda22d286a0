package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Every pick is a port one can listen on, none comes twice, and all lie
// below the range outgoing connections take their source ports from.
func TestPortsAreDistinctFreeAndBelowSourcePorts(t *testing.T) {
	low := sourcePortRange()
	lo, hi := pickRange(low)
	seen := map[int]bool{}
	for range 500 {
		port, err := Port()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if lo < hi && (port < lo || port >= hi) {
			t.Fatalf("port %d outside [%d, %d), below the source ports from %d", port, lo, hi, low)
		}
	}
	addr, err := Addr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the picked %s: %v", addr, err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(addr)
	if port, _ := strconv.Atoi(p); seen[port] {
		t.Fatalf("Addr repeated port %d", port)
	}
}

// A port someone listens on is never picked; with the whole range taken,
// the kernel picks.
func TestPortInUseIsSkipped(t *testing.T) {
	lo, hi := pickRange(sourcePortRange())
	if hi-lo < 16 {
		t.Skip("no range below the source ports here")
	}
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			_ = ln.Close()
		}
	}()
	// The top of the range, where the other tests' picks are unlikely;
	// an earlier run of this test (-count) handed its port out already.
	from := hi - 9
	mu.Lock()
	delete(handed, hi-1)
	mu.Unlock()
	for p := from; p < hi-1; p++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Skipf("port %d is taken already: %v", p, err)
		}
		held = append(held, ln)
	}
	first, err := pick(from, hi)
	if err != nil {
		t.Fatal(err)
	}
	if first != hi-1 {
		t.Fatalf("picked %d from [%d, %d) with all but %d in use", first, from, hi, hi-1)
	}
	second, err := pick(from, hi)
	if err != nil {
		t.Fatal(err)
	}
	if second >= from && second < hi {
		t.Fatalf("picked %d again from a range all in use or handed out", second)
	}
}
