package demo

import (
	"testing"
	"time"
)

func TestStream(t *testing.T) {
	var s stream
	s.message(11) // before the ack: held
	s.message(12)
	s.ack(10)
	for _, seq := range []uint64{13, 15, 16, 14, 16, 9} { // gap at 14, late 14, dup 16, old 9
		s.message(seq)
	}
	if s.received != 8 || s.have() != 16 || s.outOfOrder != 1 || s.duplicates != 2 || s.lost(16) != 0 {
		t.Errorf("stream %+v: received %d, have %d, out of order %d, duplicates %d, lost %d",
			s, s.received, s.have(), s.outOfOrder, s.duplicates, s.lost(16))
	}
	s.message(19) // 17 and 18 skipped
	if got := s.lost(21); got != 4 {
		t.Errorf("lost(21) = %d, want 4 (17, 18 skipped; 20, 21 never came)", got)
	}
	var never stream
	if got := never.lost(5); got != 5 {
		t.Errorf("a stream never acked lost %d of 5", got)
	}
}

func TestPauses(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var p pauses
	p.delivered(t0.Add(-time.Hour), time.Time{}) // not measuring yet
	p.delivered(t0.Add(100*time.Millisecond), t0)
	p.delivered(t0.Add(400*time.Millisecond), t0)
	p.delivered(t0.Add(450*time.Millisecond), t0)
	if p.max != 300*time.Millisecond {
		t.Errorf("max %v, want 300ms", p.max)
	}
	if got := p.end(t0, t0.Add(time.Second)); got != 550*time.Millisecond {
		t.Errorf("end = %v, want the 550ms silence at the end", got)
	}
}

func TestLargestStride(t *testing.T) {
	for _, tc := range []struct {
		pick []int
		k    int
		want int
	}{{[]int{0, 1, 2}, 20, 18}, {[]int{0, 7, 14}, 21, 7}, {[]int{3}, 5, 5}, {nil, 5, 0}} {
		if got := largestStride(tc.pick, tc.k); got != tc.want {
			t.Errorf("largestStride(%v, %d) = %d, want %d", tc.pick, tc.k, got, tc.want)
		}
	}
}
