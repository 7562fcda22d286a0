package loadgen

import (
	"sync"
	"testing"
)

func TestSummarize(t *testing.T) {
	v := make([]int64, 1000)
	for i := range v {
		v[i] = int64(1000 - i) // reversed: summarize must sort
	}
	got := summarize(v)
	if got.Samples != 1000 || got.P50us != 500 || got.P99us != 990 || got.P999us != 999 || got.MaxUs != 1000 {
		t.Errorf("summarize = %+v", got)
	}
	if (summarize(nil) != Latency{}) {
		t.Error("empty summary not zero")
	}
}

func TestRecorderBound(t *testing.T) {
	r := newRecorder(100)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			for i := 0; i < 50; i++ {
				r.add(int64(i))
			}
		})
	}
	wg.Wait()
	if s := r.summary(); s.Samples != 100 || s.MaxUs != 49 {
		t.Errorf("summary = %+v, want 100 kept samples", s)
	}
}
