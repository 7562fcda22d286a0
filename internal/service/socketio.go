package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/sio"
)

// SocketIOPath is where the Socket.IO service is mounted (the official
// client's default path).
const SocketIOPath = "/socket.io/"

// SocketIOConfig configures a SocketIO service. Zero fields take defaults.
type SocketIOConfig struct {
	// Limits bound each connection. MaxMessageBytes is also the Engine.IO
	// maxPayload announced to clients.
	Limits Limits
	// PingInterval and PingTimeout are the Engine.IO heartbeat; zero
	// means Node's 25s and 20s.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ConnectTimeout closes a connection that joins no namespace in time;
	// zero means 45s.
	ConnectTimeout time.Duration
	// CORS is the cross-origin policy for long-polling; zero means none.
	CORS eio.CORS
	// RequestTimeout bounds one subscribe or publish against the broker;
	// zero means 10s.
	RequestTimeout time.Duration
	// ProtocolSuite configures the service the way the official
	// engine.io-protocol and socket.io-protocol test suites expect (see
	// socketio_suite.go); it overrides the heartbeat, payload and CORS
	// settings.
	ProtocolSuite bool
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// Faults injects failures (demo and tests); nil injects none.
	Faults *Faults
}

// SocketIOStats are the Socket.IO service's counters.
type SocketIOStats struct {
	Connections   int    // Engine.IO sessions open now
	Accepted      uint64 // Engine.IO sessions opened since start
	SlowConsumers uint64 // connections closed because their queue overflowed
	Published     uint64 // messages published over Socket.IO
	Lost          uint64 // connections closed because a subscription was lost
	Hub           HubStats
}

// SocketIO is the reference pub/sub service over Socket.IO, on the main
// namespace "/":
//
//	emit "subscribe"   {"channel":"C"[,"since":N]}  ack {"ok":true,"seq":P} | {"error":"..."}
//	emit "unsubscribe" {"channel":"C"}              ack {"ok":true} | {"error":"..."}
//	emit "publish"     {"channel":"C","data":D}     ack {"ok":true,"seq":N} | {"error":"..."}
//	on   "message"     {"channel":"C","seq":N,"data":D}
//
// With since, the retained messages after seq N come first, then the live
// stream, without gap or duplicate; the ack precedes them. Errors are acks
// whose "error" is "<code>: <detail>" with the legacy protocol's codes.
// Payloads (D) are carried as raw bytes and never re-encoded.
type SocketIO struct {
	cfg    SocketIOConfig
	limits Limits
	hub    *Hub
	broker broker.Broker
	io     *sio.Server
	log    *slog.Logger
	suite  *suite // nil unless ProtocolSuite

	published atomic.Uint64
	lost      atomic.Uint64
}

// NewSocketIO returns the service over b. It owns a Hub on b (closed by
// Shutdown) but not b itself.
func NewSocketIO(cfg SocketIOConfig, b broker.Broker) (*SocketIO, error) {
	if b == nil {
		return nil, errors.New("service: NewSocketIO: nil broker")
	}
	if cfg.ProtocolSuite {
		cfg = suiteConfig(cfg)
	}
	if err := errors.Join(cfg.Limits.Validate(), cfg.Faults.Validate()); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout < 0 {
		return nil, fmt.Errorf("%w: RequestTimeout %s < 0", ErrInvalidLimits, cfg.RequestTimeout)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	limits := cfg.Limits.WithDefaults()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	io, err := sio.NewServer(sio.Config{
		Engine: eio.Config{
			PingInterval: cfg.PingInterval,
			PingTimeout:  cfg.PingTimeout,
			MaxPayload:   int(limits.MaxMessageBytes),
			QueuePackets: limits.OutboundMessages,
			QueueBytes:   limits.OutboundBytes,
			WriteTimeout: limits.WriteTimeout,
			DrainPeriod:  limits.DrainPeriod,
			CORS:         cfg.CORS,
		},
		ConnectTimeout: cfg.ConnectTimeout,
		MaxPacketSize:  int(limits.MaxMessageBytes),
	})
	if err != nil {
		return nil, fmt.Errorf("service: socket.io: %w", err)
	}
	s := &SocketIO{
		cfg:    cfg,
		limits: limits,
		hub:    NewHub(b, HubOptions{}),
		broker: b,
		io:     io,
		log:    log,
	}
	s.mountPubSub(io.Of("/"))
	if cfg.ProtocolSuite {
		if s.suite, err = newSuite(s); err != nil {
			_ = s.hub.Close()
			return nil, err
		}
	}
	return s, nil
}

// Handler serves Socket.IO at SocketIOPath and the publish API at
// PublishPath (and, in protocol-suite mode, plain Engine.IO at
// /engine.io/).
func (s *SocketIO) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(SocketIOPath, s.io.Handler())
	mux.Handle(PublishPath, PublishHandler(s.broker, s.limits.MaxMessageBytes))
	if s.suite != nil {
		mux.Handle(suiteEnginePath, s.suite.engine)
	}
	return mux
}

// Server is the underlying Socket.IO server.
func (s *SocketIO) Server() *sio.Server { return s.io }

// Shutdown closes every connection gracefully (WebSocket close code 1001),
// spread over Limits.DrainPeriod, waits for them, then closes the hub. When
// ctx ends first the remaining connections are cut and ctx's error
// returned.
func (s *SocketIO) Shutdown(ctx context.Context) error {
	err := s.io.Shutdown(ctx)
	if s.suite != nil {
		err = errors.Join(err, s.suite.engine.Shutdown(ctx))
	}
	return errors.Join(err, s.hub.Close())
}

// Stats returns a snapshot of the counters.
func (s *SocketIO) Stats() SocketIOStats {
	es := s.io.Engine().Stats()
	return SocketIOStats{
		Connections:   es.Open,
		Accepted:      es.Accepted,
		SlowConsumers: es.SlowConsumers,
		Published:     s.published.Load(),
		Lost:          s.lost.Load(),
		Hub:           s.hub.Stats(),
	}
}
