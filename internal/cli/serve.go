package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/membroker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/drain"
	"github.com/baton-rt/baton/internal/service"
)

func init() { register(newServeCmd) }

// serveFlags are the options of `baton serve`.
type serveFlags struct {
	legacyAddr   string
	socketIOAddr string
	suite        bool // --protocol-suite: configure Socket.IO for the official test suites
	brokerURL    string
	history      int
	pprofAddr    string // --pprof: net/http/pprof on its own loopback listener
	idleTimeout  time.Duration
	limits       service.Limits
	// faults make the services misbehave on purpose (--fault-latency,
	// --fault-error-rate): the rollback scenarios run a bad green.
	faultLatency   time.Duration
	faultErrorRate float64
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the reference pub/sub services (legacy WebSocket and/or Socket.IO)",
		Long: "serve runs the legacy WebSocket service (--legacy, endpoint /ws) and/or the Socket.IO\n" +
			"service (--socketio, endpoint /socket.io/) in one process, sharing one broker: in memory\n" +
			"by default, or Redis with --broker redis://HOST:PORT[/DB] so that several processes\n" +
			"serve the same channels. Both also serve POST /api/v1/publish. Each prints its URL on\n" +
			"stdout as a gateway config takes it (\"legacy listening on ws://ADDR/ws\", \"socketio\n" +
			"listening on http://ADDR/socket.io/\"). The log goes to stderr as slog text lines; the\n" +
			"Redis client's own messages are among them, at WARN with component=redis.\n\n" +
			"SIGINT or SIGTERM drains gracefully: listeners stop, then open connections are closed\n" +
			"with 1001 spread over --drain.\n\n" +
			"--pprof ADDR serves net/http/pprof on a separate listener, for benchmarks (scripts/bench.sh\n" +
			"forces a GC and takes profiles through it). ADDR must be on loopback: the handlers expose the\n" +
			"command line, which may hold the broker's credentials.\n\n" +
			"--fault-latency and --fault-error-rate make every service of this process misbehave on\n" +
			"purpose (tests and demonstrations of an automatic rollback): publish replies are delayed,\n" +
			"or a share of publish requests is refused with an internal error. Subscribes are untouched.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.legacyAddr, "legacy", "", "listen address of the legacy WebSocket service (e.g. :8081)")
	fl.StringVar(&f.socketIOAddr, "socketio", "", "listen address of the Socket.IO service (e.g. :8082)")
	fl.BoolVar(&f.suite, "protocol-suite", false, "configure --socketio as the official engine.io/socket.io protocol test suites expect (echo at /engine.io/, test handlers, 300/200 ms heartbeat)")
	fl.StringVar(&f.brokerURL, "broker", "", "broker: empty or memory for in-process, redis://[user:pass@]host:port[/db] for Redis")
	fl.StringVar(&f.pprofAddr, "pprof", "", pprofFlagUsage)
	fl.IntVar(&f.history, "history", 0, "messages retained per channel for replay (0: broker default, 1000)")
	fl.DurationVar(&f.limits.DrainPeriod, "drain", service.DefaultDrainPeriod, "graceful shutdown: period over which open connections are closed (0: the default)")
	fl.Int64Var(&f.limits.MaxMessageBytes, "max-message-bytes", service.DefaultMaxMessageBytes, "largest inbound frame/packet and publish body (0: the default)")
	fl.IntVar(&f.limits.MaxSubscriptions, "max-subscriptions", service.DefaultMaxSubscriptions, "channels one connection may subscribe to (0: the default)")
	fl.IntVar(&f.limits.OutboundMessages, "queue-messages", service.DefaultOutboundMessages, "outbound queue bound per connection, in messages; overflow closes the connection (0: the default)")
	fl.IntVar(&f.limits.OutboundBytes, "queue-bytes", service.DefaultOutboundBytes, "outbound queue bound per connection, in bytes (0: the default)")
	fl.DurationVar(&f.faultLatency, "fault-latency", 0, "fault injection: delay every publish reply by this much (0: none)")
	fl.Float64Var(&f.faultErrorRate, "fault-error-rate", 0, "fault injection: share of publish requests, 0 to 1, refused with an internal error (e.g. 0.03)")
	fl.DurationVar(&f.limits.WriteTimeout, "write-timeout", service.DefaultWriteTimeout, "longest a write to one client may take (0: the default)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 2*time.Minute, "close a keep-alive HTTP connection (long-polling, HTTP publishes) idle this long (0: never)")
	return cmd
}

// newFaults returns the faults the flags ask for, nil for none (a service
// without faults takes no fault path). Each service gets its own, so that
// each spreads its refusals over its own requests.
func (f *serveFlags) newFaults() *service.Faults {
	if f.faultLatency == 0 && f.faultErrorRate == 0 {
		return nil
	}
	return &service.Faults{Latency: f.faultLatency, ErrorRate: f.faultErrorRate}
}

// check refuses bad limits by the flag that set them; the services' own
// validation, which runs next, names their Go fields instead.
func (f *serveFlags) check() error {
	l := f.limits
	var errs []error
	negative := func(flag string, bad bool, v any) {
		if bad {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", flag, v))
		}
	}
	negative("--history", f.history < 0, f.history)
	negative("--drain", l.DrainPeriod < 0, l.DrainPeriod)
	negative("--max-message-bytes", l.MaxMessageBytes < 0, l.MaxMessageBytes)
	negative("--max-subscriptions", l.MaxSubscriptions < 0, l.MaxSubscriptions)
	negative("--queue-messages", l.OutboundMessages < 0, l.OutboundMessages)
	negative("--queue-bytes", l.OutboundBytes < 0, l.OutboundBytes)
	negative("--write-timeout", l.WriteTimeout < 0, l.WriteTimeout)
	negative("--fault-latency", f.faultLatency < 0, f.faultLatency)
	negative("--idle-timeout", f.idleTimeout < 0, f.idleTimeout)
	if r := f.faultErrorRate; math.IsNaN(r) || r < 0 || r > 1 {
		errs = append(errs, fmt.Errorf("--fault-error-rate %v: must be between 0 and 1", r))
	}
	if d := l.WithDefaults(); l.OutboundBytes >= 0 && l.MaxMessageBytes >= 0 && d.MaxMessageBytes > int64(d.OutboundBytes) {
		errs = append(errs, fmt.Errorf("--queue-bytes %d: must be at least --max-message-bytes (%d), or every client sent a largest message would be closed as slow",
			d.OutboundBytes, d.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// stoppable is one running service: its HTTP server and how to drain it.
type stoppable struct {
	name  string
	srv   *http.Server
	drain func(context.Context) error
	fresh *drain.Fresh // the connections that sent no request, closed after the drain
}

func runServe(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	if f.legacyAddr == "" && f.socketIOAddr == "" {
		return errors.New("serve: give --legacy ADDR, --socketio ADDR or both")
	}
	if err := f.check(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := errors.Join(f.limits.Validate(), f.newFaults().Validate()); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	// go-redis has one logger for the whole process, writing its own
	// unstructured lines to os.Stderr unless told otherwise.
	redis.SetLogger(redisLogger{log.With("component", "redis")})

	stopPprof, err := startPprof(f.pprofAddr, stdout)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer stopPprof()

	b, closeBroker, err := openBroker(ctx, f.brokerURL, f.history)
	if err != nil {
		return err
	}
	defer closeBroker()

	var (
		running []stoppable
		closers []func() error
	)
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	if f.legacyAddr != "" {
		hub := service.NewHub(b, service.HubOptions{})
		closers = append(closers, hub.Close)
		l, err := service.NewLegacy(hub, service.LegacyOptions{Limits: f.limits, Logger: log, Faults: f.newFaults()})
		if err != nil {
			return err
		}
		running = append(running, stoppable{"legacy", &http.Server{Handler: l.Handler()}, l.Shutdown, new(drain.Fresh)})
	}
	if f.socketIOAddr != "" {
		// The Socket.IO service is built by its own constructor, which
		// owns a hub over the same broker (and closes it on Shutdown).
		s, err := service.NewSocketIO(service.SocketIOConfig{Limits: f.limits, Logger: log, ProtocolSuite: f.suite, Faults: f.newFaults()}, b)
		if err != nil {
			return err
		}
		running = append(running, stoppable{"socketio", &http.Server{Handler: s.Handler()}, s.Shutdown, new(drain.Fresh)})
	}

	errc := make(chan error, len(running))
	addrs := map[string]string{"legacy": f.legacyAddr, "socketio": f.socketIOAddr}
	paths := map[string]string{"legacy": service.LegacyPath, "socketio": service.SocketIOPath}
	schemes := map[string]string{"legacy": "ws", "socketio": "http"}
	for i := range running {
		r := &running[i]
		r.srv.ReadHeaderTimeout = 10 * time.Second
		// A request's body too: one announced and never sent would hold
		// its connection for good (net/http lifts the deadline once the
		// body is read, and when a WebSocket takes the connection).
		r.srv.ReadTimeout = serveReadTimeout
		r.srv.IdleTimeout = f.idleTimeout // a peer gone without a FIN holds nothing for good
		r.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
		r.srv.ConnState = r.fresh.Track
		ln, err := net.Listen("tcp", addrs[r.name])
		if err != nil {
			shutdownAll(running[:i], time.Second)
			return fmt.Errorf("serve: %s: %w", r.name, err)
		}
		// Tests and scripts read this line to find the port of ":0". The
		// URL is the one a gateway config takes as backends.<color>.url.
		fmt.Fprintf(stdout, "%s listening on %s://%s%s\n", r.name, schemes[r.name], ln.Addr(), paths[r.name])
		go func() {
			if err := r.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve: %s: %w", r.name, err)
			}
		}()
	}

	select {
	case <-ctx.Done():
		log.Info("draining", "period", f.limits.WithDefaults().DrainPeriod)
		err = nil
	case err = <-errc:
		log.Error("listener failed, stopping", "err", err)
	}
	// Connections get the drain period, plus a little for their close
	// handshakes, before they are cut.
	shutdownAll(running, f.limits.WithDefaults().DrainPeriod+5*time.Second)
	return err
}

// serveReadTimeout bounds reading a request to a service, headers and
// body.
const serveReadTimeout = 10 * time.Second

// shutdownAll stops every listener and drains every service at once,
// within timeout.
func shutdownAll(running []stoppable, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range running {
		wg.Add(2)
		go func() { defer wg.Done(); _ = r.srv.Shutdown(ctx) }()
		go func() {
			defer wg.Done()
			_ = r.drain(ctx)
			r.fresh.CloseAll()
		}()
	}
	wg.Wait()
}

// redisLogger writes go-redis' log lines to a slog logger. The library
// logs what went wrong (a failed dial, a dropped connection) without a
// level: they are warnings.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	l.log.Log(ctx, slog.LevelWarn, strings.TrimPrefix(msg, "redis: "))
}

// openBroker returns the broker named by url and a function releasing it.
func openBroker(ctx context.Context, url string, history int) (broker.Broker, func(), error) {
	if url == "" || url == "memory" {
		b, err := membroker.New(membroker.Options{HistorySize: history})
		if err != nil {
			return nil, nil, fmt.Errorf("serve: memory broker: %w", err)
		}
		return b, func() { _ = b.Close() }, nil
	}
	if !strings.HasPrefix(url, "redis://") && !strings.HasPrefix(url, "rediss://") {
		return nil, nil, fmt.Errorf("serve: --broker %q: want memory, redis://HOST:PORT or rediss://HOST:PORT", url)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --broker: %w", err)
	}
	// Let context deadlines (the broker's CommandTimeout, the service's
	// bounds) bound socket reads, as redisbroker.Options.Client asks;
	// ParseURL has no parameter for it.
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := redisbroker.New(cctx, redisbroker.Options{Client: rdb, HistorySize: history})
	if err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("serve: %w", err)
	}
	return b, func() { _ = b.Close(); _ = rdb.Close() }, nil
}
