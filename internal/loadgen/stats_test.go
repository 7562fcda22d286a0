package loadgen

import "testing"

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
