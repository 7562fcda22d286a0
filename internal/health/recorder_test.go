package health

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/router"
)

func TestWindowExpiry(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Window: 30 * time.Second, Clock: clk})

	r.Add(Requests, 100)
	r.Add(ErrorReplies, 4)
	r.Observe(RequestAck, 10*time.Millisecond)
	clk.Advance(10 * time.Second)
	r.Add(Requests, 100)
	r.Count(AckTimeouts)
	r.Observe(RequestAck, 20*time.Millisecond)

	s := r.Snapshot()
	if s.Counts.Requests != 200 || s.Counts.Errors() != 5 || s.ErrorRate != 5.0/200 {
		t.Fatalf("both seconds: %+v rate %v", s.Counts, s.ErrorRate)
	}
	if s.Latency[RequestAck].Count != 2 || s.Window != 30*time.Second {
		t.Fatalf("latency %+v", s.Latency[RequestAck])
	}

	// 29 s after the first records they are still in the window (the
	// window is the current second and the 29 before it)...
	clk.Advance(19 * time.Second)
	if s := r.Snapshot(); s.Counts.Requests != 200 {
		t.Fatalf("t+29s: %+v", s.Counts)
	}
	// ...and gone one second later.
	clk.Advance(time.Second)
	s = r.Snapshot()
	if s.Counts.Requests != 100 || s.Counts.Errors() != 1 || s.Latency[RequestAck].Count != 1 || s.Latency[RequestAck].Max != 20*time.Millisecond {
		t.Fatalf("t+30s: %+v %+v", s.Counts, s.Latency[RequestAck])
	}
	// Totals keep everything.
	if s.Totals.Requests != 200 || s.Totals.ErrorReplies != 4 {
		t.Fatalf("totals %+v", s.Totals)
	}
	// A slot recycled after a long quiet spell starts from zero.
	clk.Advance(time.Duration(len(r.ring)) * time.Second * 3)
	r.Count(Requests)
	if s := r.Snapshot(); s.Counts.Requests != 1 || s.Counts.Errors() != 0 || s.Latency[RequestAck].Count != 0 || s.ErrorRate != 0 {
		t.Fatalf("after quiet spell: %+v", s)
	}
}

// TestCountsGet checks that Get reads back every counter countsOf fills.
func TestCountsGet(t *testing.T) {
	var v [NumCounters]int64
	for i := range v {
		v[i] = int64(i + 1)
	}
	c := countsOf(&v)
	for k := Counter(0); int(k) < NumCounters; k++ {
		if got := c.Get(k); got != v[k] {
			t.Fatalf("Get(%v) = %d, want %d", k, got, v[k])
		}
	}
	if got := c.Get(Counter(NumCounters)); got != 0 {
		t.Fatalf("Get(unknown) = %d", got)
	}
}

func TestErrorRateBounds(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk})
	r.Add(AbnormalCloses, 3) // failures without operations
	s := r.Snapshot()
	if f, n := s.Counts.Trials(); f != 3 || n != 3 || s.ErrorRate != 1 {
		t.Fatalf("trials %d/%d rate %v", f, n, s.ErrorRate)
	}
	r.Add(Requests, 100)
	if s := r.Snapshot(); s.ErrorRate != 0.03 {
		t.Fatalf("rate %v", s.ErrorRate)
	}
	// Unknown counters and kinds, and non-positive adds, are ignored.
	r.Count(Counter(200))
	r.Add(Requests, -5)
	r.Observe(Kind(99), time.Second)
	if s := r.Snapshot(); s.Counts.Requests != 100 {
		t.Fatalf("ignored input counted: %+v", s.Counts)
	}
}

func TestQuantileAccuracy(t *testing.T) {
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk})
	rng := rand.New(rand.NewPCG(1, 2))
	exact := make([]time.Duration, 0, 20000)
	for i := range 20000 {
		// Log-normal around 20 ms, spread over three seconds; whole µs.
		d := time.Duration(math.Exp(rng.NormFloat64()*1.2+math.Log(20000))) * time.Microsecond
		if i%7000 == 6999 {
			clk.Advance(time.Second)
		}
		r.Observe(ProbeDelivery, d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	nearestRank := func(q float64) time.Duration {
		return exact[int(math.Ceil(q*float64(len(exact))))-1]
	}
	l := r.Snapshot().Latency[ProbeDelivery]
	for _, c := range []struct {
		name string
		q    float64
		got  time.Duration
	}{{"P50", 0.5, l.P50}, {"P95", 0.95, l.P95}, {"P99", 0.99, l.P99}} {
		want := nearestRank(c.q)
		if rel := math.Abs(float64(c.got-want)) / float64(want); rel > 1.0/32 {
			t.Errorf("%s = %v, exact %v: relative error %.4f > 1/32", c.name, c.got, want, rel)
		}
	}
	if l.Max != exact[len(exact)-1] || l.Count != int64(len(exact)) {
		t.Errorf("max %v count %d, want %v %d", l.Max, l.Count, exact[len(exact)-1], len(exact))
	}
	var sum time.Duration
	for _, d := range exact {
		sum += d
	}
	if d := l.Mean - sum/time.Duration(len(exact)); d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("mean %v, want %v", l.Mean, sum/time.Duration(len(exact)))
	}
}

func TestBuckets(t *testing.T) {
	// Every value falls in the bucket whose bounds contain it, and buckets
	// are contiguous and increasing.
	var prevEnd uint64
	for i := range numBuckets {
		lo, w := bucketBounds(i)
		if lo != prevEnd {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevEnd)
		}
		prevEnd = lo + w
		if bucketOf(uint32(lo)) != i || bucketOf(uint32(lo+w-1)) != i {
			t.Fatalf("bucket %d [%d, %d) misfiled", i, lo, lo+w)
		}
		if lo >= 16 && w*16 > lo {
			t.Fatalf("bucket %d too wide: %d at %d", i, w, lo)
		}
	}
	if prevEnd != 1<<32 {
		t.Fatalf("buckets end at %d", prevEnd)
	}
	if micros(-time.Second) != 0 || micros(100*time.Hour) != maxMicros {
		t.Fatal("micros does not clamp")
	}
}

func TestSamplesUniformAcrossSeconds(t *testing.T) {
	// Uneven traffic: 10,000 values of 1 ms in one second, 1,000 of 100 ms
	// in the next. A uniform sample of 2,000 from the window holds them in
	// proportion 10:1, i.e. 1818 and 182 (largest remainder), although each
	// second kept 2,000 and 1,000 raw values.
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk, Reservoir: 2000, Seed: 9})
	for range 10000 {
		r.Observe(RequestAck, time.Millisecond)
	}
	clk.Advance(time.Second)
	for range 1000 {
		r.Observe(RequestAck, 100*time.Millisecond)
	}
	s := r.Snapshot().Latency[RequestAck].SamplesMs
	if len(s) != 2000 {
		t.Fatalf("%d samples", len(s))
	}
	var fast, slow int
	for _, v := range s {
		switch v {
		case 1:
			fast++
		case 100:
			slow++
		default:
			t.Fatalf("unexpected sample %v", v)
		}
	}
	if fast != 1818 || slow != 182 {
		t.Fatalf("fast %d slow %d, want 1818 and 182", fast, slow)
	}
	// Below the reservoir size every value comes back.
	clk.Advance(time.Minute)
	for i := range 50 {
		r.Observe(SubscribeAck, time.Duration(i)*time.Millisecond)
	}
	got := r.Snapshot().Latency[SubscribeAck].SamplesMs
	slices.Sort(got)
	for i, v := range got {
		if v != float64(i) {
			t.Fatalf("samples %v", got)
		}
	}
	if len(got) != 50 {
		t.Fatalf("%d samples, want 50", len(got))
	}
}

func TestReservoirWithinSecondIsUniform(t *testing.T) {
	// 20,000 values 0..19,999 µs in one second, reservoir 2,000: the kept
	// values' mean is near the population mean (9999.5; the sample mean's
	// standard deviation is about 5773/√2000 ≈ 129, so ±800 is > 6σ).
	clk := newFakeClock()
	_, r := newMonitor(t, Config{Clock: clk, Reservoir: 2000})
	for i := range 20000 {
		r.Observe(Handshake, time.Duration(i)*time.Microsecond)
	}
	s := r.Snapshot().Latency[Handshake].SamplesMs
	var sum float64
	for _, v := range s {
		sum += v * 1000
	}
	if mean := sum / float64(len(s)); len(s) != 2000 || math.Abs(mean-9999.5) > 800 {
		t.Fatalf("%d samples, mean %v", len(s), mean)
	}
}

func TestConcurrentRecording(t *testing.T) {
	// Real clock: goroutines cross second boundaries and recycle slots
	// while others write and read.
	m, r := newMonitor(t, Config{Window: 2 * time.Second, Reservoir: 100})
	const workers, each = 8, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r.Count(Requests)
				r.Observe(Kind(i%NumKinds), time.Duration(w*i)*time.Microsecond)
				if i%500 == 0 {
					r.SessionOpened()
					_ = m.Snapshot(router.Green)
					m.Tick()
					r.SessionClosed()
				}
			}
		})
	}
	wg.Wait()
	s := r.Snapshot()
	if s.Totals.Requests != workers*each || s.Sessions != 0 {
		t.Fatalf("totals %+v sessions %d", s.Totals, s.Sessions)
	}
	if s.Counts.Requests > workers*each {
		t.Fatalf("window counts %d exceed totals", s.Counts.Requests)
	}
}

func TestSeries(t *testing.T) {
	clk := newFakeClock()
	m, r := newMonitor(t, Config{Clock: clk, SeriesLen: 5})
	for i := range 8 {
		r.SetSessions(int64(i))
		r.Count(Requests)
		r.Observe(ProbeDelivery, time.Duration(i+1)*time.Millisecond)
		m.Tick()
		clk.Advance(time.Second)
	}
	pts := m.Series(router.Green)
	if len(pts) != 5 {
		t.Fatalf("%d points", len(pts))
	}
	for i, p := range pts {
		if p.Sessions != int64(i+3) || !p.At.Before(clk.Now()) || (i > 0 && !p.At.After(pts[i-1].At)) {
			t.Fatalf("point %d: %+v", i, p)
		}
	}
	if last := pts[4]; last.Requests != 8 || last.P99[ProbeDelivery] != 8*time.Millisecond || last.Count[ProbeDelivery] != 8 {
		t.Fatalf("last point %+v", last)
	}
	if blue := m.Series(router.Blue); len(blue) != 5 || blue[0].Requests != 0 {
		t.Fatalf("blue series %+v", blue)
	}
	if m.Series(router.Color(7)) != nil || m.Backend(router.Color(7)) != nil || m.Snapshot(router.Color(7)).Backend != "" {
		t.Fatal("unknown color answered")
	}
}

func TestSnapshotJSON(t *testing.T) {
	clk := newFakeClock()
	m, r := newMonitor(t, Config{Clock: clk})
	r.Observe(RequestAck, 3*time.Millisecond)
	b, err := json.Marshal(m.Snapshot(router.Green))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"backend":"green"`, `"request_ack":{"count":1`, `"probe_delivery":{"count":0`, `"error_rate":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	if s := m.Snapshot(router.Green); s.MemoryBytes == 0 {
		t.Error("no process memory")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Window: -1}, {Window: 2 * time.Hour}, {Reservoir: -1}, {Reservoir: MaxReservoir + 1}, {SeriesLen: -3}} {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
	m, err := New(Config{Window: 1500 * time.Millisecond})
	if err != nil || m.Window() != 2*time.Second {
		t.Fatalf("window %v err %v", m.Window(), err)
	}
	if m.Backend(router.Blue).Name() != "blue" {
		t.Fatal("name")
	}
}
