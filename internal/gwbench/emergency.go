package gwbench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/baton-rt/baton/internal/loadgen/procstat"
	"github.com/baton-rt/baton/internal/loadgen/samples"
	"github.com/baton-rt/baton/internal/sleep"
)

// EmergencyConfig is one emergency-rollback measurement (RunEmergency). The
// gateway runs in its own process at weight 0 with its rollout idle; blue
// and green share a broker so that seqs agree on both.
type EmergencyConfig struct {
	Gateway    string // edge host:port (required)
	AdminURL   string // admin API base, http://host:port (required)
	AdminToken string
	PublishURL string // a backend's publish endpoint, http://host:port/api/v1/publish (required)

	Sessions        int           // sessions moved (9000: what fits 20,000 open files per process)
	Channels        int           // channels they spread over (200)
	PerSessionRate  float64       // messages/s each session receives while publishing (1)
	Baseline        time.Duration // publishing on green before the rollback (2s)
	After           time.Duration // publishing after every session is on blue (2s)
	Poll            time.Duration // period of the GET /api/v1/status polls (5ms)
	Timeout         time.Duration // longest wait for the rollback (60s)
	DialConcurrency int           // dials and subscribes in flight (64)
	Payload         int           // bytes of published data (100)
	Drain           time.Duration // longest wait for outstanding deliveries (15s)
	// SetupPace paces the moves to green before the measurement (moves/s,
	// 2000): the setup is not what is measured, and an unpaced setup can
	// overrun green's subscribe timeouts on a small machine.
	SetupPace int

	// GatewayPID, BluePID and GreenPID (optional) are the processes whose
	// CPU is read over the rollback; every other process is noise, and
	// the rollback waits up to QuietWait (1m; <0: no wait) for that noise
	// to fall below QuietBelow cores (0.3).
	GatewayPID, BluePID, GreenPID int
	QuietWait                     time.Duration
	QuietBelow                    float64
}

func (c *EmergencyConfig) defaults() {
	c.Sessions = cmp.Or(c.Sessions, 9000)
	c.Channels = cmp.Or(c.Channels, 200)
	c.PerSessionRate = cmp.Or(c.PerSessionRate, 1)
	c.Baseline = cmp.Or(c.Baseline, 2*time.Second)
	c.After = cmp.Or(c.After, 2*time.Second)
	c.Poll = cmp.Or(c.Poll, 5*time.Millisecond)
	c.Timeout = cmp.Or(c.Timeout, time.Minute)
	c.DialConcurrency = cmp.Or(c.DialConcurrency, 64)
	c.Payload = cmp.Or(c.Payload, 100)
	c.Drain = cmp.Or(c.Drain, 15*time.Second)
	c.SetupPace = cmp.Or(c.SetupPace, 2000)
	c.QuietWait = cmp.Or(c.QuietWait, time.Minute)
	c.QuietBelow = cmp.Or(c.QuietBelow, 0.3)
}

// watched lists the configured processes and their names.
func (c *EmergencyConfig) watched() ([]int, []string) {
	var (
		pids  []int
		names []string
	)
	for i, p := range []int{c.GatewayPID, c.BluePID, c.GreenPID} {
		if p > 0 {
			pids = append(pids, p)
			names = append(names, [...]string{"gateway", "blue", "green"}[i])
		}
	}
	return pids, names
}

func (c *EmergencyConfig) validate() error {
	switch {
	case c.Gateway == "" || c.AdminURL == "" || c.PublishURL == "":
		return errors.New("gwbench: emergency: the gateway, admin and publish addresses are required")
	case c.Sessions < 1, c.Channels < 1, c.DialConcurrency < 1, c.SetupPace < 1:
		return errors.New("gwbench: emergency: counts must be positive")
	case c.Channels > c.Sessions:
		return errors.New("gwbench: emergency: Channels must not exceed Sessions")
	case c.PerSessionRate <= 0 || c.PerSessionRate > 1000:
		return errors.New("gwbench: emergency: PerSessionRate must be in (0, 1000]")
	case c.Payload < minPayload || c.Payload > 1<<16:
		return fmt.Errorf("gwbench: emergency: Payload must be between %d and 65536", minPayload)
	case c.Baseline <= 0, c.After < 0, c.Poll <= 0, c.Timeout <= 0, c.Drain <= 0:
		return errors.New("gwbench: emergency: durations must be positive (After may be 0)")
	}
	return nil
}

// Emergency is the result of RunEmergency. Times are wall-clock from this
// process; ScaledSeconds is a linear extrapolation, not a measurement.
type Emergency struct {
	Started  time.Time       `json:"started"`
	Config   EmergencyConfig `json:"config"`
	Sessions int             `json:"sessions"`
	// RolloutID is the rollout whose single step (weight 100, long hold)
	// put every session on green before the emergency.
	RolloutID string `json:"rollout_id"`
	// ShiftSeconds is how long that step's paced moves to green took.
	ShiftSeconds float64 `json:"shift_seconds"`

	// AnswerMs: POST /api/v1/rollout/emergency-rollback sent → answered.
	AnswerMs float64 `json:"answer_ms"`
	// Seconds: POST sent → the first status poll showing every session on
	// blue (and none detached); polls run every Config.Poll.
	Seconds        float64 `json:"seconds"`
	SessionsPerSec float64 `json:"sessions_per_sec"`
	// ControllerSeconds is the rollout's own record: rollback started →
	// rolled back (its stored rollback_at and ended_at).
	ControllerSeconds float64 `json:"controller_seconds"`
	// ScaledSeconds is Seconds × 10000 / Sessions.
	ScaledSeconds float64 `json:"scaled_10k_seconds"`
	State         string  `json:"state"` // the rollout's final state
	OnBlue        int     `json:"on_blue"`
	// StandbyBefore counts the sessions holding an idle blue standby when
	// the command was sent (gateway.KeepStandby): their way back is a
	// resubscribe rather than a reconnect.
	StandbyBefore int    `json:"standby_before"`
	MovesFailed   uint64 `json:"moves_failed"` // gateway counter growth over the rollback

	Published     int64 `json:"published"`
	PublishErrors int64 `json:"publish_errors"`
	Late          int64 `json:"late"`
	Delivered     int64 `json:"delivered"`
	Lost          int64 `json:"lost"`
	Duplicated    int64 `json:"duplicated"`
	Dropped       int64 `json:"dropped"` // client connections that ended
	// Pause is the per-session delivery pause during the rollback
	// window, BaselinePause the same before it (µs).
	Pause         Dist `json:"pause_us"`
	BaselinePause Dist `json:"baseline_pause_us"`

	// OtherBefore is the CPU other processes used just before the
	// command (cores), LoadAvg the 1-minute load average then; Cores the
	// CPU of each watched process, the driver and the rest over the
	// rollback.
	OtherBefore float64 `json:"other_cores_before"`
	LoadAvg     float64 `json:"load_avg"`
	Cores       Cores   `json:"cores"`
}

// rolloutAnswer is the part of the admin API's rollout status read here.
type rolloutAnswer struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	Step       int       `json:"step"`
	Applied    bool      `json:"applied"`
	Reason     string    `json:"reason"`
	RollbackAt time.Time `json:"rollback_at"`
	EndedAt    time.Time `json:"ended_at"`
	History    []struct {
		MovesMs int64 `json:"moves_ms"`
	} `json:"history"`
}

func (a *admin) rollout(ctx context.Context, method, path string, body []byte) (rolloutAnswer, error) {
	var r rolloutAnswer
	err := a.do(ctx, method, path, body, ioTimeout, &r)
	return r, err
}

// RunEmergency measures an emergency rollback: Sessions clients connect
// through the gateway (all on blue at weight 0) and subscribe; a rollout
// with one step (100 %, a hold far longer than the run) moves them all to
// green; publishing starts; then POST /api/v1/rollout/emergency-rollback
// and GET /api/v1/status every Poll until every session is on blue. Every
// client's stream is checked by seq for lost and duplicated messages.
func RunEmergency(ctx context.Context, cfg EmergencyConfig, logw io.Writer) (*Emergency, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newRunner(logw, cfg.AdminURL, cfg.AdminToken)
	e := &Emergency{Started: time.Now().UTC(), Config: cfg}
	e.Config.AdminToken = ""
	st, err := r.admin.status(ctx)
	if err != nil {
		return nil, err
	}
	if st.Weight != 0 {
		return nil, fmt.Errorf("gwbench: emergency: the gateway must start at weight 0 (all on blue), not %v", st.Weight)
	}

	s := &sink{}
	r.logf("emergency: connecting %d sessions", cfg.Sessions)
	clients, err := connectAll(ctx, newDialer(cfg.Gateway, s), 0, cfg.Sessions, cfg.DialConcurrency, false)
	defer func() { closeAll(s, clients) }()
	if err != nil {
		return e, fmt.Errorf("emergency: %w", err)
	}
	e.Sessions = len(clients)
	channels := channelNames("em."+r.id+".", cfg.Channels)
	if err := subscribeAll(ctx, clients, spread(channels), cfg.DialConcurrency); err != nil {
		return e, fmt.Errorf("emergency: subscribe: %w", err)
	}

	if err := r.toGreen(ctx, e, cfg.SetupPace); err != nil {
		return e, err
	}
	for _, c := range clients {
		c.reset()
	}
	return e, r.emergency(ctx, cfg, e, clients, s, channels)
}

// toGreen starts a one-step rollout to 100 % with a hold far longer than
// the run, its moves paced at pace per second, and waits until they are
// done.
func (r *runner) toGreen(ctx context.Context, e *Emergency, pace int) error {
	body := `{"steps":[100],"hold":"1h","moves_per_second":` + strconv.Itoa(pace) + `}`
	ro, err := r.admin.rollout(ctx, http.MethodPost, "/api/v1/rollout/start", []byte(body))
	if err != nil {
		return fmt.Errorf("emergency: start the rollout: %w", err)
	}
	e.RolloutID = ro.ID
	deadline := time.Now().Add(5 * time.Minute)
	for !(ro.State == "shifting" && ro.Step == 1 && ro.Applied) {
		if time.Now().After(deadline) || ro.State == "rolled_back" || ro.State == "aborted" {
			return fmt.Errorf("%w: emergency: rollout %s did not reach 100 %% (%s: %s)", ErrAdmin, ro.ID, ro.State, ro.Reason)
		}
		if err := sleep.For(ctx, 50*time.Millisecond); err != nil {
			return err
		}
		if ro, err = r.admin.rollout(ctx, http.MethodGet, "/api/v1/rollout", nil); err != nil {
			return err
		}
	}
	if len(ro.History) > 0 {
		e.ShiftSeconds = float64(ro.History[0].MovesMs) / 1000
	}
	st, err := r.admin.status(ctx)
	if err != nil {
		return err
	}
	if st.Sessions.Green != e.Sessions {
		return fmt.Errorf("%w: emergency: %d of %d sessions on green after the shift", ErrAdmin, st.Sessions.Green, e.Sessions)
	}
	r.logf("emergency: rollout %s put %d sessions on green in %.2fs", ro.ID, st.Sessions.Green, e.ShiftSeconds)
	return nil
}

// emergency publishes, triggers the rollback, times it and checks every
// stream.
func (r *runner) emergency(ctx context.Context, cfg EmergencyConfig, e *Emergency, clients []*client, s *sink, channels []string) error {
	p := newSteady(cfg.PublishURL, cfg.Payload, channels, cfg.PerSessionRate)
	stop := p.start(ctx)
	defer stop()

	s.track.Store(true)
	defer s.track.Store(false)
	s.lat.Store(samples.NewRecorder(1 << 16)) // latencies are not reported; the pause needs them tracked
	if err := sleep.For(ctx, time.Second); err != nil {
		return err
	}
	s.window.Store(windowBaseline)
	if err := sleep.For(ctx, cfg.Baseline); err != nil {
		return err
	}
	pids, names := cfg.watched()
	e.OtherBefore = waitQuiet(ctx, pids, cfg.QuietWait, cfg.QuietBelow, r.logf)
	e.LoadAvg = procstat.LoadAvg()
	before, err := r.admin.status(ctx)
	if err != nil {
		return err
	}
	s.window.Store(windowMove)
	e.StandbyBefore = before.Sessions.Standby
	r.logf("emergency: %d sessions on green (%d with a blue standby), publishing %.0f msg/s; other processes use %.2f cores (load %.2f); emergency rollback",
		before.Sessions.Green, before.Sessions.Standby, p.rate, e.OtherBefore, e.LoadAvg)

	m := startCPU(pids)
	t0 := time.Now()
	if _, err := r.admin.rollout(ctx, http.MethodPost, "/api/v1/rollout/emergency-rollback", nil); err != nil {
		return fmt.Errorf("emergency: %w", err)
	}
	e.AnswerMs = float64(time.Since(t0).Microseconds()) / 1000
	for {
		st, err := r.admin.status(ctx)
		if err == nil && st.Sessions.Blue == e.Sessions && st.Sessions.Green == 0 {
			e.Seconds = time.Since(t0).Seconds()
			e.Cores = m.stop(names)
			e.OnBlue = st.Sessions.Blue
			e.MovesFailed = st.Moves.Failed - before.Moves.Failed
			break
		}
		if time.Since(t0) > cfg.Timeout {
			return fmt.Errorf("%w: emergency: not every session on blue within %v (last status %+v, %v)", ErrAdmin, cfg.Timeout, st.Sessions, err)
		}
		if err := sleep.For(ctx, cfg.Poll); err != nil {
			return err
		}
	}
	e.SessionsPerSec = float64(e.Sessions) / e.Seconds
	e.ScaledSeconds = e.Seconds * 10000 / float64(e.Sessions)
	r.logf("emergency: every session on blue %.3fs after the command (%.0f sessions/s; scaled to 10,000: %.3fs); cores %v, driver %.2f, other %.2f",
		e.Seconds, e.SessionsPerSec, e.ScaledSeconds, e.Cores.Procs, e.Cores.Driver, e.Cores.Other)

	sleepErr := sleep.For(ctx, cfg.After)
	s.window.Store(windowNone)
	stop()
	if sleepErr != nil {
		return sleepErr
	}
	if ro, err := r.admin.rollout(ctx, http.MethodGet, "/api/v1/rollout", nil); err == nil {
		e.State = ro.State
		if !ro.RollbackAt.IsZero() && !ro.EndedAt.IsZero() {
			e.ControllerSeconds = ro.EndedAt.Sub(ro.RollbackAt).Seconds()
		}
	}

	st, err := p.check(ctx, clients, cfg.Drain)
	if err != nil {
		return err
	}
	e.Delivered, e.Lost, e.Duplicated = st.delivered, st.lost, st.duplicated
	e.Pause, e.BaselinePause = st.pause, st.baseline
	e.Published, e.PublishErrors, e.Late = p.published.Load(), p.failed.Load(), p.late.Load()
	e.Dropped = s.dropped.Load()
	r.logf("emergency: rollout %s, controller %.3fs; delivered %d, lost %d, duplicated %d, dropped %d; pause p50 %.1fms p99 %.1fms",
		e.State, e.ControllerSeconds, e.Delivered, e.Lost, e.Duplicated, e.Dropped, e.Pause.P50/1000, e.Pause.P99/1000)
	return nil
}
