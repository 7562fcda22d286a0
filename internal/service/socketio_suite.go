package service

import (
	"time"

	"github.com/baton-rt/baton/internal/eio"
	"github.com/baton-rt/baton/internal/sio"
)

// Protocol-suite mode (`baton serve --socketio ADDR --protocol-suite`)
// configures the service the way the official test suites assume
// (github.com/socketio/engine.io-protocol and socket.io-protocol, folder
// test-suite/), and the interop scenarios with it:
//
//   - /engine.io/ is plain Engine.IO that echoes every message, text and
//     binary;
//   - /socket.io/ is Socket.IO where "/" and "/custom" emit "auth" with the
//     handshake's auth payload on connect, answer "message" with
//     "message-back" and the same arguments, and ack "message-with-ack"
//     with its arguments; "/" also keeps the pub/sub API;
//   - heartbeat 300 ms / 200 ms, maxPayload 1000000, connect timeout
//     1000 ms, CORS "*".
//
// Fields the caller set explicitly (heartbeat, connect timeout) are kept,
// so tests on a loaded machine can relax the timing.

// suiteAuthDelay separates the "auth" event from the CONNECT answer.
const suiteAuthDelay = 10 * time.Millisecond

// suiteEnginePath is where the echoing Engine.IO server is mounted.
const suiteEnginePath = "/engine.io/"

// suite holds what protocol-suite mode adds to the service.
type suite struct {
	engine *eio.Server
}

func suiteConfig(cfg SocketIOConfig) SocketIOConfig {
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 300 * time.Millisecond
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = 200 * time.Millisecond
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = time.Second
	}
	cfg.Limits.MaxMessageBytes = 1_000_000
	cfg.CORS = eio.CORS{Origins: []string{"*"}}
	return cfg
}

func newSuite(s *SocketIO) (*suite, error) {
	engine, err := eio.NewServer(eio.Config{
		PingInterval: s.cfg.PingInterval,
		PingTimeout:  s.cfg.PingTimeout,
		MaxPayload:   int(s.limits.MaxMessageBytes),
		QueuePackets: s.limits.OutboundMessages,
		QueueBytes:   s.limits.OutboundBytes,
		WriteTimeout: s.limits.WriteTimeout,
		DrainPeriod:  s.limits.DrainPeriod,
		CORS:         s.cfg.CORS,
	}, echoEngine{})
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"/", "/custom"} {
		n := s.io.Of(name)
		n.OnConnect(func(so *sio.Socket) {
			// The suite reads the CONNECT answer and "auth" with one
			// listener each, attached one after the other; two WebSocket
			// messages delivered in the same read reach the first listener
			// only. Node's server happens to space them by one event-loop
			// turn (it waits for the first write's callback); a short pause
			// does the same here.
			time.AfterFunc(suiteAuthDelay, func() {
				if so.Connected() {
					_ = so.Emit("auth", so.Auth())
				}
			})
		})
		n.On("message", func(so *sio.Socket, e *sio.Event) {
			_ = so.EmitBinary("message-back", e.Binary, e.Args...)
		})
		n.On("message-with-ack", func(_ *sio.Socket, e *sio.Event) {
			_ = e.AckBinary(e.Binary, e.Args...)
		})
	}
	return &suite{engine: engine}, nil
}

// echoEngine sends every Engine.IO message back as it came.
type echoEngine struct{}

func (echoEngine) OnOpen(*eio.Conn) {}

func (echoEngine) OnMessage(c *eio.Conn, data []byte, binary bool) {
	if binary {
		_ = c.SendBinary(data)
		return
	}
	_ = c.SendText(data)
}

func (echoEngine) OnClose(*eio.Conn, error) {}
