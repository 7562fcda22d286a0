package health

import (
	"reflect"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

// Summary and SnapshotSamples are Snapshot without the samples nobody
// reads: every other value, and the samples of the kind asked for, are
// Snapshot's to the bit.
func TestSummaryAndSnapshotSamplesMatchSnapshot(t *testing.T) {
	clk := newFakeClock()
	m, r := newMonitor(t, Config{Window: 5 * time.Second, Reservoir: 100, Clock: clk, Seed: 3})
	for sec := range 5 {
		r.Add(Requests, 400)
		r.Count(AckTimeouts)
		for k := range NumKinds {
			for i := range 100 + 60*sec + 10*k { // more than a reservoir
				r.Observe(Kind(k), time.Duration(i*(k+1))*time.Microsecond)
			}
		}
		clk.Advance(time.Second)
	}
	clk.Advance(-time.Second / 2) // the last second is the current one

	noMem := func(s Snapshot) Snapshot { s.MemoryBytes = 0; return s }
	full := noMem(r.Snapshot())
	for k := range NumKinds {
		if n := len(full.Latency[k].SamplesMs); n != 100 {
			t.Fatalf("Snapshot: %d samples of %v, want 100", n, Kind(k))
		}
	}
	without := func(s Snapshot, keep int) Snapshot {
		for k := range s.Latency {
			if k != keep {
				s.Latency[k].SamplesMs = nil
			}
		}
		return s
	}
	if got, want := noMem(r.Summary()), without(full, -1); !reflect.DeepEqual(got, want) {
		t.Errorf("Summary:\n%+v\nwant\n%+v", got, want)
	}
	if got, want := noMem(m.Summary(router.Green)), without(full, -1); !reflect.DeepEqual(got, want) {
		t.Errorf("Monitor.Summary:\n%+v\nwant\n%+v", got, want)
	}
	for k := range NumKinds {
		if got, want := noMem(r.SnapshotSamples(Kind(k))), without(full, k); !reflect.DeepEqual(got, want) {
			t.Errorf("SnapshotSamples(%v):\n%+v\nwant\n%+v", Kind(k), got, want)
		}
		if got, want := noMem(m.SnapshotSamples(router.Green, Kind(k))), without(full, k); !reflect.DeepEqual(got, want) {
			t.Errorf("Monitor.SnapshotSamples(%v):\n%+v\nwant\n%+v", Kind(k), got, want)
		}
	}
	if got, want := noMem(r.SnapshotSamples(Kind(NumKinds))), without(full, -1); !reflect.DeepEqual(got, want) {
		t.Errorf("SnapshotSamples(unknown kind):\n%+v\nwant\n%+v", got, want)
	}
	if m.Summary(router.Color(7)).Backend != "" || m.SnapshotSamples(router.Color(7), RequestAck).Backend != "" {
		t.Error("an unknown backend gives a non-zero snapshot")
	}
}
