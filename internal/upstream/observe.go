package upstream

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/baton-rt/baton/internal/config"
	"github.com/baton-rt/baton/internal/health"
	"github.com/baton-rt/baton/internal/sioclient"
	"github.com/baton-rt/baton/internal/wsconn"
)

// Observe returns a Dialer that records what d's connections do into rec,
// the health.Recorder of d's backend, without the gateway knowing:
//
//	Dial          Handshake latency; DialFailures (no TCP connection) or
//	              HandshakeFailures (connected, protocol handshake failed)
//	Subscribe     SubscribeAck latency
//	Publish       RequestAck latency
//	Request       RequestAck latency
//	Unsubscribe   counted, no latency (it would weigh RequestAck differently
//	              on the two backends)
//	close         AbnormalCloses when the backend ended the connection
//	              (ProtocolErrors when it broke the protocol)
//
// Each operation that reached the backend counts once in Requests and, when
// it failed, once in one error counter: ErrorReplies for a refusal,
// AckTimeouts when the caller's deadline or the connection's request
// timeout (Options.RequestTimeout) passed first, ProtocolErrors for a
// reply the driver could not read. Operations that say nothing about the
// backend are not counted at all: those canceled by the caller, those
// refused before sending (ErrInvalidArgs, ErrMessageTooLarge), and those
// that failed because the connection had ended (the end itself is counted
// once, as a close). Emit expects no answer and is not counted.
func Observe(d Dialer, rec *health.Recorder) Dialer {
	return &observedDialer{d: d, rec: rec}
}

type observedDialer struct {
	d   Dialer
	rec *health.Recorder
}

func (o *observedDialer) Protocol() config.Protocol { return o.d.Protocol() }

func (o *observedDialer) Dial(ctx context.Context, h Handler) (Conn, error) {
	start := time.Now()
	c, err := o.d.Dial(ctx, &observedHandler{h: h, rec: o.rec})
	switch {
	case err == nil:
		o.rec.Count(health.Requests)
		o.rec.Observe(health.Handshake, time.Since(start))
		return &observedConn{Conn: c, rec: o.rec}, nil
	case CallerGaveUp(ctx):
		// Not the backend's fault; a deadline that ran out is, as a
		// request's is (AckTimeouts).
	case isDialFailure(err):
		o.rec.Count(health.Requests)
		o.rec.Count(health.DialFailures)
	default:
		o.rec.Count(health.Requests)
		o.rec.Count(health.HandshakeFailures)
	}
	return nil, err
}

// isDialFailure tells a connection that could not be opened (refused,
// reset, unreachable, DNS) from one whose handshake failed afterwards.
func isDialFailure(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}

// observedHandler counts the connection's unasked end.
type observedHandler struct {
	h   Handler
	rec *health.Recorder
}

func (o *observedHandler) HandleEvent(ev Event) { o.h.HandleEvent(ev) }
func (o *observedHandler) Flush()               { o.h.Flush() }

func (o *observedHandler) HandleClose(err error) {
	switch {
	case err == nil: // closed by us
	case brokeProtocol(err):
		o.rec.Count(health.ProtocolErrors)
	default:
		o.rec.Count(health.AbnormalCloses)
	}
	o.h.HandleClose(err)
}

// isRemote reports whether err is a backend's refusal (a *RemoteError).
// A function of its own so that the variable errors.As fills, which goes to
// the heap, costs only the calls that fail.
func isRemote(err error) bool {
	var re *RemoteError
	return errors.As(err, &re)
}

// brokeProtocol reports whether err, a connection's end, is the backend
// breaking its protocol: as the drivers find it, as the Socket.IO client
// does, or in the WebSocket frames (a bad frame, one over the size limit).
func brokeProtocol(err error) bool {
	for _, target := range []error{ErrProtocol, ErrBadReply, sioclient.ErrProtocol, wsconn.ErrProtocol, wsconn.ErrTooLarge} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// observedConn times and counts the operations of one connection.
type observedConn struct {
	Conn
	rec *health.Recorder
}

// The operations return at once when their context has already ended
// (canceledEarly): the legacy driver would start the write and close the
// connection, which the handler could not tell from the backend dropping
// it. A write cut half-way by the deadline still ends the connection and
// counts as an abnormal close: the write could only block that long on a
// backend that does not read.

// noLatency is the kind given to record for operations whose latency is
// not kept.
const noLatency = health.Kind(255)

// record counts one finished operation started at start; see Observe.
// gaveUp is the caller's context's error when the operation ended, nil
// when that no longer matters.
func (o *observedConn) record(gaveUp error, k health.Kind, start time.Time, err error) {
	var fail health.Counter
	switch {
	case err == nil:
		o.rec.Count(health.Requests)
		if k != noLatency {
			o.rec.Observe(k, time.Since(start))
		}
		return
	case isRemote(err): // the backend answered, whoever still waits
		fail = health.ErrorReplies
	case errors.Is(gaveUp, context.DeadlineExceeded):
		fail = health.AckTimeouts
	case gaveUp != nil, errors.Is(err, ErrInvalidArgs), errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrClosed):
		return
	case errors.Is(err, context.DeadlineExceeded): // the connection's own request timeout
		fail = health.AckTimeouts
	default:
		fail = health.ProtocolErrors
	}
	o.rec.Count(health.Requests)
	o.rec.Count(fail)
}

func (o *observedConn) Subscribe(ctx context.Context, channel string, since uint64, hasSince bool) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, err // see "return at once" above
	}
	start := time.Now()
	p, err := o.Conn.Subscribe(ctx, channel, since, hasSince)
	o.record(ctx.Err(), health.SubscribeAck, start, err)
	return p, err
}

func (o *observedConn) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err // see "return at once" above
	}
	err := o.Conn.Unsubscribe(ctx, channel)
	o.record(ctx.Err(), noLatency, time.Time{}, err)
	return err
}

func (o *observedConn) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err // see "return at once" above
	}
	start := time.Now()
	seq, err := o.Conn.Publish(ctx, channel, data)
	o.record(ctx.Err(), health.RequestAck, start, err)
	return seq, err
}

func (o *observedConn) PublishAsync(ctx context.Context, channel string, data []byte, reply func(uint64, error)) error {
	if err := ctx.Err(); err != nil {
		return err // see "return at once" above
	}
	start := time.Now()
	err := o.Conn.PublishAsync(ctx, channel, data, func(seq uint64, err error) {
		// Once written, the request no longer watches ctx (see
		// Conn.PublishAsync): its answer is the backend's, or the
		// connection's timeout, whether or not the client is still there.
		o.record(nil, health.RequestAck, start, err)
		reply(seq, err)
	})
	if err != nil {
		o.record(ctx.Err(), health.RequestAck, start, err)
	}
	return err
}

func (o *observedConn) Request(ctx context.Context, event string, args [][]byte) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // see "return at once" above
	}
	start := time.Now()
	reply, err := o.Conn.Request(ctx, event, args)
	o.record(ctx.Err(), health.RequestAck, start, err)
	return reply, err
}

// CallerGaveUp reports whether a dial made with ctx, which failed, was
// given up by its caller (a weight change called off, a client gone, a
// shutdown): then it says nothing of the backend. A deadline that ran out
// does: the callers' bounds (handover.timeout, the probe's, the green
// check's) are no longer than the dial's own timeout (5 s each by
// default) and start first, so they are what ends the dials of a backend
// that accepts and never answers.
func CallerGaveUp(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
