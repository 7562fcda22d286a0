// Package health keeps per-backend health for the rollout gates, the admin
// API and the dashboard: counters and error rates, latency distributions
// and raw latency samples over a sliding time window, a short time series,
// process memory, and a synthetic prober that gives the gates data when
// there is no traffic.
//
// # Model
//
// A Monitor holds one Recorder per backend (blue, green). Hot-path code —
// edge, upstream drivers, handover — keeps the *Recorder it got from
// Monitor.Backend and calls Count, Observe and SessionOpened/SessionClosed;
// each is a handful of atomic operations, never blocks behind readers and
// never allocates.
//
// The window is a ring of one-second slots. A record lands in the slot of
// the current second (by the injected Clock, counted on the monotonic
// clock that time.Now carries, so a step of the wall clock does not empty
// the window; see Recorder.second); a snapshot sums the slots of
// the last Window seconds, the current partial second included. Each slot
// holds the counters, a log-linear latency histogram per Kind (16
// sub-buckets per power of two of microseconds: a quantile read from it is
// within 1/32 ≈ 3.1 % of an exact order statistic), and a uniform reservoir
// of raw latencies per Kind for the rank and bootstrap tests in
// internal/rollout/stats.
//
// Alongside the window, each Recorder keeps one cumulative histogram per
// Kind with fixed buckets from 0.5 ms to 10 s (LatencyBuckets): counts that
// only grow, read by Recorder.LatencyHistogram, for Prometheus histograms.
// Observe adds to it with two more atomic adds.
//
// # Several gateways
//
// Gateways serving the same backends share their windows: ExportSince
// gives the seconds after a given one as compact, JSON-able records
// (Second), and Import keeps another gateway's (a source's) in a bounded
// window of its own, forgetting a source silent for longer than the
// window, at most MaxSources of them. Only SnapshotSamplesSince, the
// rollout gates' reader, merges them with the local seconds; Snapshot,
// Summary, SnapshotSamples and the time series (the admin API, the
// dashboard, Prometheus) are this gateway's alone. Recording is unchanged:
// only the readers do the merging.
//
// # Error rate
//
// Requests counts every operation sent to a backend that expects an answer
// (a request, a subscribe, a dial, a probe publish). Each failure is counted
// once in one of the error counters. Abnormal closes are failures without an
// operation of their own, so a window's rate is
// Errors / max(Requests, Errors): always in [0, 1], and 1 when a backend only
// fails.
package health
