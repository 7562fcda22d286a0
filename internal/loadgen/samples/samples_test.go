package samples

import (
	"sync"
	"testing"
)

func TestSummarize(t *testing.T) {
	v := make([]int64, 1000)
	for i := range v {
		v[i] = int64(1000 - i) // reversed: Summarize must sort
	}
	got := Summarize(v)
	if got.N != 1000 || got.P50 != 500 || got.P99 != 990 || got.P999 != 999 || got.Max != 1000 {
		t.Errorf("Summarize = %+v", got)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("empty summary not zero")
	}
}

func TestRecorderBound(t *testing.T) {
	r := NewRecorder(100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 50 {
				r.Add(int64(i))
			}
		})
	}
	wg.Wait()
	if s := Summarize(r.Values()); s.N != 100 || s.Max != 49 {
		t.Errorf("summary = %+v, want 100 kept samples", s)
	}
}
