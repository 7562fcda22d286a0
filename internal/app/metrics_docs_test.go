package app

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// docMetric is one metric of the table under "## `GET /metrics`" of
// docs/api.md.
type docMetric struct {
	typ string // gauge, counter, histogram
	// labels maps each label name to the values the table lists for it
	// (nil: none listed there, as for backend and "kind: as above").
	labels map[string][]string
}

// docLabelNames are the label names the table uses; its other code spans
// in the Labels column are values.
var docLabelNames = []string{"backend", "kind", "state", "result", "le"}

// docMetrics reads the metrics table of docs/api.md by family name.
func docMetrics(t *testing.T) map[string]docMetric {
	t.Helper()
	raw, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "## `GET /metrics`")
	if start < 0 {
		t.Fatal("docs/api.md has no GET /metrics section")
	}
	doc = doc[start:]
	if end := strings.Index(doc[1:], "\n## "); end >= 0 {
		doc = doc[:end+1]
	}
	row := regexp.MustCompile("(?m)^\\| (`baton_[^|]*) \\| (gauge|counter|histogram) \\|([^|]*)\\|")
	name := regexp.MustCompile("`(baton_[a-z0-9_]+|…_[a-z0-9_]+)`")
	code := regexp.MustCompile("`([^`]+)`")
	out := map[string]docMetric{}
	for _, m := range row.FindAllStringSubmatch(doc, -1) {
		dm := docMetric{typ: m[2], labels: map[string][]string{}}
		cur := ""
		for _, c := range code.FindAllStringSubmatch(m[3], -1) {
			if slices.Contains(docLabelNames, c[1]) {
				cur = c[1]
				dm.labels[cur] = nil
			} else if cur != "" {
				dm.labels[cur] = append(dm.labels[cur], c[1])
			}
		}
		prefix := ""
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			full := n[1]
			if strings.HasPrefix(full, "…_") {
				full = prefix + strings.TrimPrefix(full, "…")
			} else if i := strings.LastIndex(full, "_p50"); i > 0 {
				prefix = full[:i]
			}
			out[full] = dm
		}
	}
	if len(out) < 20 {
		t.Fatalf("read only %d metrics from docs/api.md: %v", len(out), out)
	}
	return out
}

// TestMetricsMatchDocs: a real gateway with every part docs/api.md lists
// (rollout, health, edge, alerts, a Redis rollout.store) exposes exactly
// the baton_ families of the doc's table, each with the documented type,
// HELP, label names and, where the table lists them, label values; and
// its registry passes client_golang's lint (promtool check metrics).
func TestMetricsMatchDocs(t *testing.T) {
	cfg := redisStoreConfig(t, redisPrefix(t))
	a := start(t, cfg, Options{})
	clients(t, a.App, 2)

	want := docMetrics(t)
	fams := scrape(t, a.App)
	types := map[dto.MetricType]string{dto.MetricType_GAUGE: "gauge", dto.MetricType_COUNTER: "counter", dto.MetricType_HISTOGRAM: "histogram"}
	for name, f := range fams {
		if !strings.HasPrefix(name, "baton_") {
			continue
		}
		typ := types[f.GetType()]
		w, ok := want[name]
		if !ok {
			t.Errorf("/metrics exposes %s (%s), docs/api.md does not list it", name, typ)
			continue
		}
		if w.typ != typ {
			t.Errorf("%s is a %s, docs/api.md says %s", name, typ, w.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
		got := map[string][]string{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(got[l.GetName()], l.GetValue()) {
					got[l.GetName()] = append(got[l.GetName()], l.GetValue())
				}
			}
		}
		wantNames := slices.Sorted(maps.Keys(w.labels))
		if typ == "histogram" { // le is in the buckets, not in the labels
			wantNames = slices.DeleteFunc(wantNames, func(s string) bool { return s == "le" })
		}
		if gotNames := slices.Sorted(maps.Keys(got)); !slices.Equal(gotNames, wantNames) {
			t.Errorf("%s has labels %v, docs/api.md lists %v", name, gotNames, wantNames)
		}
		for l, values := range w.labels {
			if values == nil || got[l] == nil {
				continue
			}
			if g, v := slices.Sorted(slices.Values(got[l])), slices.Sorted(slices.Values(values)); !slices.Equal(g, v) {
				t.Errorf("%s: %s values %v, docs/api.md lists %v", name, l, g, v)
			}
		}
		if vs := got["backend"]; vs != nil && !slices.Equal(slices.Sorted(slices.Values(vs)), []string{"blue", "green"}) {
			t.Errorf("%s: backend values %v, want blue and green", name, vs)
		}
	}
	for name := range want {
		if _, ok := fams[name]; !ok {
			t.Errorf("docs/api.md lists %s, /metrics does not expose it", name)
		}
	}

	problems, err := testutil.GatherAndLint(a.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
