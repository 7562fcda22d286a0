package health

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values are whole microseconds in [0, maxMicros]. Values
// below 16 µs get a bucket each; above, every power of two is split into 16
// equal sub-buckets (HdrHistogram's log-linear scheme with 4 bits of
// precision). The widest bucket is 1/16 of its lower bound, so the bucket
// midpoint is within 1/32 of any value in it.
const (
	subBits    = 4
	subCount   = 1 << subBits // 16
	maxMicros  = math.MaxUint32
	numBuckets = (32 - subBits + 1) * subCount // v < 2^32: shift ≤ 27
)

// micros converts d to the histogram's unit, clamped to [0, maxMicros]
// (negative durations come from clock steps; they count as 0).
func micros(d time.Duration) uint32 {
	us := d.Microseconds()
	switch {
	case us <= 0:
		return 0
	case us >= maxMicros:
		return maxMicros
	}
	return uint32(us)
}

// bucketOf returns the bucket index of v.
func bucketOf(v uint32) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len32(v) - subBits - 1 // v>>shift is in [16, 32)
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketBounds returns the smallest value in bucket i and the bucket's
// width.
func bucketBounds(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	shift := i/subCount - 1
	return uint64(i%subCount+subCount) << shift, 1 << shift
}

// histQuantile reads the q-quantile from merged bucket counts by nearest
// rank (the smallest value with at least ⌈q·n⌉ observations at or below
// it), reporting the bucket's midpoint clamped to the observed minimum
// and maximum: a midpoint below every observation (all of them in the
// upper half of one bucket) would read as under a limit they all exceed.
// n is the total of counts; an empty histogram gives 0.
func histQuantile(counts *[numBuckets]uint64, n uint64, q float64, minV, maxV uint32) time.Duration {
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			lo, w := bucketBounds(i)
			mid := min(max(lo+(w-1)/2, uint64(minV)), uint64(maxV))
			return time.Duration(mid) * time.Microsecond
		}
	}
	return time.Duration(maxV) * time.Microsecond
}
