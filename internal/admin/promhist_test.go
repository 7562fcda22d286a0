package admin

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/router"
)

// leValues are the le label values the latency histograms may carry.
func leValues() []string {
	out := []string{"+Inf"}
	for _, b := range health.LatencyBuckets() {
		out = append(out, strconv.FormatFloat(b, 'g', -1, 64))
	}
	return out
}

// monitorHealth serves the fixed gauges of fakeHealth and the histograms of
// a real health.Monitor, adapted the way the command's adapter does.
type monitorHealth struct {
	fakeHealth
	m *health.Monitor
}

func (h monitorHealth) LatencyHistograms(c router.Color) map[string]LatencyHistogram {
	r := h.m.Backend(c)
	out := make(map[string]LatencyHistogram, health.NumKinds)
	for k := range health.NumKinds {
		lh := r.LatencyHistogram(health.Kind(k))
		out[health.Kind(k).String()] = LatencyHistogram{Count: lh.Count, Sum: lh.Sum, Bounds: lh.Bounds, Cumulative: lh.Cumulative}
	}
	return out
}

// stepClock is a health.Clock the test moves by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// hist is one scraped histogram series.
type hist struct {
	count   uint64
	sum     float64
	buckets map[float64]uint64 // le → cumulative count
}

// scrapeHistograms GETs /metrics, parses it with the official text parser
// and returns baton_backend_latency_seconds keyed by "backend/kind".
func scrapeHistograms(t *testing.T, h *harness) map[string]hist {
	t.Helper()
	code, body := h.do("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	for _, gauge := range []string{"baton_backend_latency_p50_seconds", "baton_backend_latency_p95_seconds", "baton_backend_latency_p99_seconds"} {
		if mfs[gauge] == nil {
			t.Errorf("%s is gone", gauge)
		}
	}
	mf := mfs["baton_backend_latency_seconds"]
	if mf == nil || mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("baton_backend_latency_seconds missing or not a histogram: %v", mf)
	}
	out := map[string]hist{}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		hm := m.GetHistogram()
		got := hist{count: hm.GetSampleCount(), sum: hm.GetSampleSum(), buckets: map[float64]uint64{}}
		for _, b := range hm.GetBucket() {
			got.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
		}
		if inf, ok := got.buckets[math.Inf(1)]; ok && inf != got.count {
			t.Errorf("%v: +Inf bucket %d != count %d", labels, inf, got.count)
		}
		delete(got.buckets, math.Inf(1))
		if len(labels) != 2 || len(got.buckets) != len(health.LatencyBuckets()) {
			t.Errorf("series %v has %d buckets", labels, len(got.buckets))
		}
		out[labels["backend"]+"/"+labels["kind"]] = got
	}
	if len(out) != 2*len(LatencyKinds) {
		t.Errorf("%d histogram series, want one per backend and kind: %v", len(out), out)
	}
	return out
}

// checkHist compares a scraped histogram with the expected cumulative
// counts, one per bound of health.LatencyBuckets.
func checkHist(t *testing.T, name string, got hist, count uint64, sum float64, cumulative []uint64) {
	t.Helper()
	if got.count != count || math.Abs(got.sum-sum) > 1e-9 {
		t.Errorf("%s: count %d sum %v, want %d %v", name, got.count, got.sum, count, sum)
	}
	for i, le := range health.LatencyBuckets() {
		if got.buckets[le] != cumulative[i] {
			t.Errorf("%s: le=%v is %d, want %d", name, le, got.buckets[le], cumulative[i])
		}
	}
}

func TestPrometheusLatencyHistograms(t *testing.T) {
	clk := &stepClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	mon, err := health.New(health.Config{Window: 5 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Health = monitorHealth{m: mon} })
	blue, green := mon.Backend(router.Blue), mon.Backend(router.Green)

	// Bounds: 0.5ms 1ms 2.5ms 5ms 10ms 25ms 50ms 100ms 250ms 500ms 1s 2.5s 5s 10s.
	for _, d := range []time.Duration{300 * time.Microsecond, 800 * time.Microsecond, 3 * time.Millisecond, 40 * time.Millisecond, 12 * time.Second} {
		blue.Observe(health.RequestAck, d)
	}
	green.Observe(health.Handshake, 2*time.Millisecond)

	first := scrapeHistograms(t, h)
	checkHist(t, "blue/request_ack", first["blue/request_ack"], 5, 12.0441,
		[]uint64{1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4})
	checkHist(t, "green/handshake", first["green/handshake"], 1, 0.002,
		[]uint64{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	checkHist(t, "green/probe_delivery", first["green/probe_delivery"], 0, 0, make([]uint64, 14))

	// Past the health window the windowed values forget; the histogram
	// only grows.
	clk.Advance(time.Minute)
	blue.Observe(health.RequestAck, 500*time.Microsecond) // on the bound: le=0.0005
	blue.Observe(health.SubscribeAck, 7*time.Second)
	if n := mon.Snapshot(router.Blue).Latency[health.RequestAck].Count; n != 1 {
		t.Fatalf("window count %d, want 1", n)
	}

	second := scrapeHistograms(t, h)
	checkHist(t, "blue/request_ack", second["blue/request_ack"], 6, 12.0446,
		[]uint64{2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5})
	checkHist(t, "blue/subscribe_ack", second["blue/subscribe_ack"], 1, 7,
		[]uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	for series, a := range first {
		b := second[series]
		if b.count < a.count || b.sum < a.sum {
			t.Errorf("%s: count/sum went down: %d/%v → %d/%v", series, a.count, a.sum, b.count, b.sum)
		}
		for le, n := range a.buckets {
			if b.buckets[le] < n {
				t.Errorf("%s: le=%v went down: %d → %d", series, le, n, b.buckets[le])
			}
		}
	}

	// The label sets stay fixed: the generic scrape checks every label
	// value, and the series count is bounded.
	if n := len(scrape(t, h)); n > 120+2*len(LatencyKinds)*(len(health.LatencyBuckets())+3) {
		t.Errorf("%d series", n)
	}
}

// badHistograms returns histograms the collector must refuse or ignore.
type badHistograms struct{ fakeHealth }

func (badHistograms) LatencyHistograms(router.Color) map[string]LatencyHistogram {
	return map[string]LatencyHistogram{
		"request_ack": {Count: 1, Bounds: []float64{0.1, 1}, Cumulative: []uint64{1}},
		"user-42":     {Count: 1, Bounds: []float64{1}, Cumulative: []uint64{1}},
	}
}

func TestPrometheusBadHistogram(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Health = badHistograms{} })
	got := scrape(t, h) // the rest of the scrape is still served
	if got[`baton_sessions{backend="blue"}`] != "70" {
		t.Fatalf("sessions missing: %v", got)
	}
	for k := range got {
		if strings.HasPrefix(k, "baton_backend_latency_seconds") {
			t.Errorf("malformed histogram exported as %s", k)
		}
	}
}
