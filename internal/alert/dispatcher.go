package alert

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// Defaults of Options.
const (
	DefaultQueueSize  = 64
	DefaultMaxBackoff = 30 * time.Second
)

// Options tune a Dispatcher beyond the config file. The zero value is ready
// to use.
type Options struct {
	// Logger receives delivery failures, retries and drops. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Client posts the requests. Nil means a client of the dispatcher's own,
	// which does not follow redirects (a webhook URL names its endpoint; a
	// redirect must not carry the payload elsewhere) and whose idle
	// connections Close shuts.
	Client *http.Client
	// QueueSize bounds each webhook's queue of undelivered events. When it is
	// full, Notify drops that webhook's oldest event and counts it. Zero
	// means DefaultQueueSize.
	QueueSize int
	// Source names the sender in payloads (PagerDuty's payload.source).
	// Empty means "baton@" and the host name.
	Source string
	// MaxBackoff caps one wait between attempts, including a Retry-After the
	// receiver asks for. Zero means DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// Notifier is what the rollout controller needs from a Dispatcher.
type Notifier interface {
	Notify(ev Event) error
}

var _ Notifier = (*Dispatcher)(nil)

// Stats count deliveries since New; each event counts once per webhook it
// is queued for.
type Stats struct {
	// Sent events were accepted (2xx) by their webhook.
	Sent uint64
	// Failed events were tried and given up: a 4xx other than 408 and 429,
	// an outage (network errors, timeouts, 5xx, 408) that outlasted both the
	// retries and the outage timeout, a throttle (429) that outlasted the
	// throttle timeout, an event that did not encode, or a delivery cut
	// short by Close's deadline.
	Failed uint64
	// Dropped events were never tried: pushed out of a full queue, or still
	// queued when Close's deadline passed.
	Dropped uint64
	// Retried counts attempts after the first.
	Retried uint64
}

// Dispatcher sends events to every configured webhook, each in its own
// format, from one worker goroutine per webhook. All methods are safe for
// concurrent use.
type Dispatcher struct {
	log        *slog.Logger
	client     *http.Client
	ownClient  bool
	source     string
	timeout    time.Duration // one attempt
	backoff    time.Duration // before the first retry
	maxBackoff time.Duration
	attempts   int           // first try plus retries; throttled tries not counted
	throttled  time.Duration // how long throttled tries go on (config ThrottleTimeout)
	outage     time.Duration // how long failed tries go on past attempts (config OutageTimeout)
	sinks      []*sink

	// mu guards closed. Notify holds it for reading while it queues, so once
	// Close has it for writing no event can slip in behind the drain.
	mu      sync.RWMutex
	closed  bool
	closing chan struct{} // closed by Close: workers drain, then exit

	ctx    context.Context // cancelled when Close gives up draining
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sent, failed, dropped, retried atomic.Uint64
}

// New starts a Dispatcher for cfg's webhooks. Zero fields of cfg mean what
// the config package documents (timeout 5s, 3 retries, backoff 500ms,
// throttle and outage timeouts 10m; a negative Retries means none, throttled
// and outage tries included); a PagerDuty webhook without URL goes to
// config.DefaultPagerDutyURL. With no webhooks the Dispatcher accepts events
// and sends nothing. The caller must Close it.
func New(cfg config.Alerts, opts Options) (*Dispatcher, error) {
	d := &Dispatcher{
		log:        opts.Logger,
		client:     opts.Client,
		source:     opts.Source,
		timeout:    cfg.Timeout,
		backoff:    cfg.Backoff,
		maxBackoff: opts.MaxBackoff,
		throttled:  cfg.ThrottleTimeout,
		outage:     cfg.OutageTimeout,
		closing:    make(chan struct{}),
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "alert")
	if d.timeout <= 0 {
		d.timeout = config.DefaultAlertTimeout
	}
	if d.backoff <= 0 {
		d.backoff = config.DefaultAlertBackoff
	}
	if d.maxBackoff <= 0 {
		d.maxBackoff = DefaultMaxBackoff
	}
	if d.throttled <= 0 {
		d.throttled = config.DefaultAlertThrottleTimeout
	}
	if d.outage <= 0 {
		d.outage = config.DefaultAlertOutageTimeout
	}
	retries := cfg.Retries
	if retries == 0 {
		retries = config.DefaultAlertRetries
	}
	d.attempts = 1 + max(retries, 0)
	if d.source == "" {
		d.source = "baton"
		if h, err := os.Hostname(); err == nil && h != "" {
			d.source += "@" + h
		}
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	for i, w := range cfg.Webhooks {
		s, err := newSink(i, w, size)
		if err != nil {
			return nil, err
		}
		d.sinks = append(d.sinks, s)
	}
	if d.client == nil {
		d.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		d.ownClient = true
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, s := range d.sinks {
		d.wg.Add(1)
		go d.run(s)
	}
	return d, nil
}

// newSink checks webhook i and picks its format.
func newSink(i int, w config.Webhook, size int) (*sink, error) {
	s := &sink{
		name: fmt.Sprintf("%s[%d]", w.Kind, i),
		url:  w.URL,
		size: size,
		wake: make(chan struct{}, 1),
	}
	switch w.Kind {
	case config.WebhookGeneric:
		s.format = formatGeneric
	case config.WebhookSlack:
		s.format = formatSlack
	case config.WebhookPagerDuty:
		key := w.PagerDutyRoutingKey()
		if key == "" {
			return nil, fmt.Errorf("%w: webhooks[%d].routing_key: required for pagerduty", ErrConfig, i)
		}
		if s.url == "" {
			s.url = config.DefaultPagerDutyURL
		}
		s.format = pagerDutyFormatter(key)
	default:
		return nil, fmt.Errorf("%w: webhooks[%d].kind: unknown kind %q", ErrConfig, i, w.Kind)
	}
	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL itself stays out of the error: Slack URLs are secrets.
		return nil, fmt.Errorf("%w: webhooks[%d].url: want an absolute http or https URL", ErrConfig, i)
	}
	return s, nil
}

// Notify queues ev for every webhook and returns at once; it never waits on
// the network. It fills ev's defaults (severity, time) and encodes it, so
// the caller may reuse ev.Details afterwards. A full queue drops its oldest
// event to make room. Notify fails only for an invalid event
// (ErrInvalidEvent) or after Close (ErrClosed).
func (d *Dispatcher) Notify(ev Event) error {
	ev, err := normalize(ev, time.Now())
	if err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if len(d.sinks) == 0 {
		return nil
	}
	r := newRecord(ev, d.source)
	for _, s := range d.sinks {
		body, skip, err := s.format(&r)
		if err != nil {
			d.failed.Add(1)
			d.log.Error("alert not encoded", "webhook", s.name, "kind", ev.Kind, "rollout", ev.RolloutID, "error", err)
			continue
		}
		if skip {
			continue
		}
		if old, evicted := s.push(item{body: body, kind: ev.Kind, rolloutID: ev.RolloutID}); evicted {
			d.dropped.Add(1)
			d.log.Warn("alert queue full, dropped the oldest event",
				"webhook", s.name, "kind", old.kind, "rollout", old.rolloutID, "queue", s.size)
		}
	}
	return nil
}

// Close stops accepting events and waits for every queued event to be
// delivered or given up, until ctx ends. Then it cancels deliveries still
// running, counts events still queued as dropped and returns ctx's error.
// Close returns ErrClosed when called again.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	close(d.closing)
	d.mu.Unlock()

	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("alert: close before the queues drained: %w", ctx.Err())
		d.cancel()
		<-done // every wait of a worker watches d.ctx, so this is short
	}
	d.cancel()
	for _, s := range d.sinks {
		if n := s.clear(); n > 0 {
			d.dropped.Add(uint64(n))
			d.log.Warn("alerts left undelivered at close", "webhook", s.name, "count", n)
		}
	}
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
	return err
}

// Stats returns the counters so far.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Sent:    d.sent.Load(),
		Failed:  d.failed.Load(),
		Dropped: d.dropped.Load(),
		Retried: d.retried.Load(),
	}
}

// run is one webhook's worker: it delivers queued events one at a time, in
// order, until Close has been called and the queue is empty, or until Close
// gives up.
func (d *Dispatcher) run(s *sink) {
	defer d.wg.Done()
	for d.ctx.Err() == nil {
		if it, ok := s.pop(); ok {
			d.deliver(s, it)
			continue
		}
		select {
		case <-s.wake:
		case <-d.closing:
			if s.len() == 0 {
				return // Notify queues nothing after closing
			}
		case <-d.ctx.Done():
		}
	}
}

// sink is one webhook: its format and its bounded queue.
type sink struct {
	name   string // kind[index]; never the URL, which may hold a secret
	url    string
	format formatter
	size   int
	wake   chan struct{} // capacity 1: "the queue is not empty"

	mu    sync.Mutex
	queue []item
}

// item is one encoded event waiting for its webhook.
type item struct {
	body      []byte
	kind      Kind
	rolloutID string
}

// push appends it; when the queue is full it first removes and returns the
// oldest item (drop oldest: the newest transition matters most).
func (s *sink) push(it item) (old item, evicted bool) {
	s.mu.Lock()
	if len(s.queue) >= s.size {
		old, evicted = s.queue[0], true
		s.queue[0] = item{}
		s.queue = s.queue[1:]
	}
	s.queue = append(s.queue, it)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return old, evicted
}

func (s *sink) pop() (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return item{}, false
	}
	it := s.queue[0]
	s.queue[0] = item{}
	s.queue = s.queue[1:]
	return it, true
}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// clear empties the queue and says how many items it held.
func (s *sink) clear() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.queue)
	s.queue = nil
	return n
}
