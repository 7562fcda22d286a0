package gwbench

import "time"

// Result is one run, written as JSON by `baton gwbench run` and rendered
// by Report.
type Result struct {
	Started    time.Time `json:"started"`
	Config     Config    `json:"config"`
	LoadAvg    float64   `json:"load_avg"`    // 1-minute load average at the start
	BusyBefore float64   `json:"busy_before"` // other processes' cores when the run started

	Latency   map[string]RTT    `json:"latency"`    // by target name
	Fanout    map[string]Fanout `json:"fanout"`     // by target name
	Memory    map[string]Memory `json:"memory"`     // gateway and nginx
	Handover  []Handover        `json:"handover"`   // blue→green, then green→blue with Reverse
	DriverRSS int64             `json:"driver_rss"` // this process, bytes, at its peak
	Notes     []string          `json:"notes,omitempty"`
}

// RTT is the round-trip phase of one target: sequential requests, one
// session after the other.
type RTT struct {
	Sessions int   `json:"sessions"`
	Errors   int64 `json:"errors"`
	// Ack is publish request sent → its ack received, at the client.
	Ack Dist `json:"ack"`
	// Deliver is the same publish sent → its message delivered back to the
	// publishing client, which is subscribed to its own channel.
	Deliver Dist  `json:"deliver"`
	Cores   Cores `json:"cores"` // averaged over the rounds
	// ProxyCPUPerRequestUs is the proxy's CPU time over the rounds divided
	// by the requests sent in them (each is a publish in, its ack and its
	// message out); 0 for direct targets.
	ProxyCPUPerRequestUs float64 `json:"proxy_cpu_per_request_us"`
	// AllocsPerRequest is the gateway's heap allocations over the rounds
	// divided the same way; -1 when not counted (Config.VarsURL).
	AllocsPerRequest float64 `json:"allocs_per_request"`
}

// Memory is the idle-session reading of one proxy process.
type Memory struct {
	Sessions         int     `json:"sessions"`
	ConnectSeconds   float64 `json:"connect_seconds"`
	ConnectsPerSec   float64 `json:"connects_per_sec"`
	RSSBefore        int64   `json:"rss_before"`
	RSSAfter         int64   `json:"rss_after"`
	BytesPerSession  float64 `json:"bytes_per_session"`
	BackendRSSBefore int64   `json:"backend_rss_before"`
	BackendRSSAfter  int64   `json:"backend_rss_after"`
}

// Fanout is broadcast to one channel at saturation through one target.
type Fanout struct {
	Subscribers      int     `json:"subscribers"`
	Seconds          float64 `json:"seconds"`
	Published        int64   `json:"published"` // in the window
	Delivered        int64   `json:"delivered"` // in the window
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	Lost             int64   `json:"lost"` // whole phase, after the drain
	Dropped          int64   `json:"dropped_conns"`
	Cores            Cores   `json:"cores"`
	// ProxyCPUPerFrameUs is the proxy's CPU time over the window divided by
	// the frames it relayed to clients (each one read from the backend and
	// written to a client); 0 for direct.
	ProxyCPUPerFrameUs float64 `json:"proxy_cpu_per_frame_us"`
	// AllocsPerFrame is the gateway's heap allocations over the window
	// divided by the frames it relayed; -1 when not counted (Config.VarsURL).
	AllocsPerFrame float64 `json:"allocs_per_frame"`
	// Rounds are every round's figures, in the order run; the fields
	// above are the median round's (see Config.FanoutRounds), except
	// Lost and Dropped, which add up every round's.
	Rounds []FanoutRound `json:"rounds,omitempty"`
}

// FanoutRound is one fan-out measurement of a target.
type FanoutRound struct {
	DeliveriesPerSec   float64 `json:"deliveries_per_sec"`
	ProxyCPUPerFrameUs float64 `json:"proxy_cpu_per_frame_us"`
	Lost               int64   `json:"lost"`
	Dropped            int64   `json:"dropped_conns"`
}

// Handover is one weight change moving every session live.
type Handover struct {
	From           float64 `json:"from"` // weight before
	To             float64 `json:"to"`   // weight after
	Sessions       int     `json:"sessions"`
	Channels       int     `json:"channels"`
	PerSessionRate float64 `json:"per_session_rate"`
	Seconds        float64 `json:"seconds"` // PUT /api/v1/weight sent → answered
	Moved          int     `json:"moved"`
	Failed         int     `json:"failed"`
	SessionsPerSec float64 `json:"sessions_per_sec"`
	OnTarget       int     `json:"on_target"` // sessions on the target backend afterwards (status)

	// With the connections prepared ahead (Config.Prepared): the
	// preparation's time and counts, before the baseline window.
	Prepared        bool    `json:"prepared,omitempty"`
	PrepareSeconds  float64 `json:"prepare_seconds,omitempty"`
	PreparedConns   int     `json:"prepared_conns,omitempty"`
	PrepareFailures int     `json:"prepare_failures,omitempty"`

	// Pause is, per session, the largest rise in message latency between
	// two consecutive deliveries during the move window: the extra gap the
	// client saw beyond the publisher's gap. Baseline is the same measure
	// over the steady window before the change, for the noise floor.
	Pause           Dist `json:"pause"`
	BaselinePause   Dist `json:"baseline_pause"`
	Latency         Dist `json:"latency"` // publish→deliver of every message in the move window
	BaselineLatency Dist `json:"baseline_latency"`

	Published     int64 `json:"published"`
	PublishErrors int64 `json:"publish_errors"`
	Late          int64 `json:"late"` // publishes the steady publisher could not start on time
	Delivered     int64 `json:"delivered"`
	Lost          int64 `json:"lost"`
	Duplicated    int64 `json:"duplicated"`
	Dropped       int64 `json:"dropped_conns"`
	Cores         Cores `json:"cores"` // over the move window
}
