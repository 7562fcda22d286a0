package loadgen

import "time"

// Result is everything one run measured. It is written as JSON by
// `baton bench run` and read back by Report.
type Result struct {
	Name     string    `json:"name"`
	Protocol Protocol  `json:"protocol"`
	Started  time.Time `json:"started"`
	// LoadAvg is the machine's 1-minute load average when the run started:
	// the machine is shared, and a busy one lowers every number.
	LoadAvg float64 `json:"load_avg"`
	// BusyBefore is the cores other processes used just before the run
	// started (after the quiet wait).
	BusyBefore float64 `json:"busy_before"`
	Idle       Idle    `json:"idle"`
	Latency    Fanout  `json:"latency"`
	Saturate   Fanout  `json:"saturation"`
	// ServerPeakRSS is the server's VmHWM at the end of the run, bytes.
	ServerPeakRSS int64 `json:"server_peak_rss"`
	// ServerErrors counts error frames and refused requests seen by clients.
	ServerErrors int64 `json:"server_errors"`
	// Profiles lists the pprof files saved, if any.
	Profiles []string `json:"profiles,omitempty"`
}

// Idle is the memory and handshake measurement.
type Idle struct {
	Conns            int     `json:"conns"`
	HandshakeSeconds float64 `json:"handshake_seconds"`
	HandshakesPerSec float64 `json:"handshakes_per_sec"`
	RSSBefore        int64   `json:"rss_before"` // bytes
	RSSAfter         int64   `json:"rss_after"`  // bytes
	BytesPerConn     float64 `json:"bytes_per_conn"`
	ServerThreads    int     `json:"server_threads"`
	ClientRSS        int64   `json:"client_rss"` // load generator, bytes, with the connections open
	Pings            int64   `json:"pings"`      // server heartbeats answered during the run
}

// Fanout is one broadcast phase on one channel.
type Fanout struct {
	Subscribers int     `json:"subscribers"`
	Seconds     float64 `json:"seconds"`   // measured window (saturation) or phase length (latency)
	RatePerSec  float64 `json:"rate"`      // fixed publish rate (latency phase)
	InFlight    int     `json:"in_flight"` // concurrent publishes (saturation phase)
	MaxLag      int     `json:"max_lag"`

	Published     int64 `json:"published"`
	PublishErrors int64 `json:"publish_errors"`
	Delivered     int64 `json:"delivered"`
	// Lost is expected deliveries still missing after the drain (not yet
	// delivered, or never). A publish that timed out but was delivered makes
	// it undercount; see PublishErrors.
	Lost             int64   `json:"lost"`
	Dropped          int64   `json:"dropped_conns"`
	PublishesPerSec  float64 `json:"publishes_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	ServerCores      float64 `json:"server_cores"` // average cores the server used
	ClientCores      float64 `json:"client_cores"` // average cores the load generator used
	OtherCores       float64 `json:"other_cores"`  // average cores every other process used (noise)
	// DeliveriesPerCPUSec normalises throughput by the server's CPU time.
	DeliveriesPerCPUSec float64 `json:"deliveries_per_cpu_sec"`
	Latency             Latency `json:"latency"`
}
