package app

import (
	"github.com/baton-rt/baton/internal/alert"
	"github.com/prometheus/client_golang/prometheus"
)

// alertResultsDesc describes baton_alerts_total: a receiver that drops or
// refuses alerts is otherwise seen only in the logs.
var alertResultsDesc = prometheus.NewDesc("baton_alerts_total",
	"Rollout alerts by result, once per receiver: sent (accepted), failed (given up: an outage longer than its retries and outage timeout, a throttle longer than its timeout, or refused), dropped (pushed out of a full queue, or left at shutdown), retried (attempts after the first).",
	[]string{"result"}, nil)

// alertCollector exposes the alert dispatcher's counters.
type alertCollector struct{ d *alert.Dispatcher }

// Describe implements prometheus.Collector.
func (c alertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- alertResultsDesc }

// Collect implements prometheus.Collector: one counter per result, read
// from the dispatcher at each scrape.
func (c alertCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.Stats()
	for _, r := range []struct {
		result string
		n      uint64
	}{{"sent", s.Sent}, {"failed", s.Failed}, {"dropped", s.Dropped}, {"retried", s.Retried}} {
		ch <- prometheus.MustNewConstMetric(alertResultsDesc, prometheus.CounterValue, float64(r.n), r.result)
	}
}
