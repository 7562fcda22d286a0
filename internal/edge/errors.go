package edge

import (
	"context"
	"errors"
	"time"

	"github.com/baton-rt/baton/internal/session"
	"github.com/baton-rt/baton/internal/upstream"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// replyError is the error a client gets for a refused request: a legacy
// error code (docs/protocols/legacy.md) and a message. Socket.IO clients
// get it as the ack {"error":"<code>: <message>"}, like from the reference
// service.
type replyError struct {
	code, msg string
}

// codeNotSubscribed is the Socket.IO reference service's code for
// unsubscribing from a channel not held.
const codeNotSubscribed = "not_subscribed"

// countReply counts an error answer to a client, and a refusal for size.
func (s *Server) countReply(r replyError) {
	s.errReplies.Add(1)
	if r.code == legacy.CodeMessageTooLarge {
		s.tooLarge.Add(1)
	}
}

// toReply maps a session or backend error to what the client is told.
func toReply(err error) replyError {
	var re *upstream.RemoteError
	switch {
	case errors.As(err, &re):
		code := re.Code
		if code == "" {
			code = legacy.CodeInternal
		}
		return replyError{code, re.Message}
	case errors.Is(err, upstream.ErrMessageTooLarge):
		// Refused by the gateway, before anything reached the backend.
		return replyError{legacy.CodeMessageTooLarge, err.Error()}
	case errors.Is(err, session.ErrInvalidChannel):
		return replyError{legacy.CodeInvalidChannel, err.Error()}
	case errors.Is(err, session.ErrAlreadySubscribed):
		return replyError{legacy.CodeAlreadySubscribed, err.Error()}
	case errors.Is(err, session.ErrTooManySubscriptions):
		return replyError{legacy.CodeTooManySubscriptions, err.Error()}
	case errors.Is(err, session.ErrNotSubscribed):
		return replyError{codeNotSubscribed, err.Error()}
	case errors.Is(err, session.ErrStillSubscribed):
		// Before the deadline's case: the backend was never asked.
		return replyError{legacy.CodeInternal, "still subscribed: the session was busy (a move, a re-attach) past the request timeout; try again"}
	case errors.Is(err, upstream.ErrInvalidArgs):
		return replyError{legacy.CodeBadRequest, err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return replyError{legacy.CodeInternal, "the backend did not answer in time"}
	}
	return replyError{legacy.CodeInternal, err.Error()}
}

// errNotCarried refuses a custom event that the client's protocol cannot
// carry: to a legacy client, one named like a frame type of the legacy
// protocol (see carried); to a Socket.IO client, one named like a
// Socket.IO reserved event. The session counts it (messages.rejected).
var errNotCarried = errors.New("edge: a custom event the client's protocol cannot carry is not sent")

// notCarriedLogEvery spaces the log lines of events not carried.
const notCarriedLogEvery = 10 * time.Second

// notCarried logs msg, at most once per notCarriedLogEvery over both
// edges, with session's event name that was not carried to its client,
// and returns errNotCarried.
func (s *Server) notCarried(session, name, msg string) error {
	now := time.Now().UnixNano()
	next := s.notCarriedNext.Load()
	if now < next || !s.notCarriedNext.CompareAndSwap(next, now+int64(notCarriedLogEvery)) {
		s.notCarriedQuiet.Add(1)
		return errNotCarried
	}
	s.log.Warn(msg, "event", name, "session", session, "not_logged_before", s.notCarriedQuiet.Swap(0))
	return errNotCarried
}
