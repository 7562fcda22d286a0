package sioclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
	"github.com/baton-rt/baton/internal/wire/socketio"
)

// The reference pub/sub API over Socket.IO, as Baton's reference service
// speaks it (each request is an event with an ack callback):
//
//	emit "subscribe"   {"channel":"c"[, "since":N]}  ack {"ok":true[,"seq":P]} | {"error":...}
//	emit "unsubscribe" {"channel":"c"}               ack {"ok":true} | {"error":...}
//	emit "publish"     {"channel":"c","data":<json>} ack {"ok":true,"seq":N} | {"error":...}
//	on   "message"     {"channel":"c","seq":N,"data":<json>}
//
// With since, the server first sends the retained messages with seq > since,
// then the live stream, without gap or duplicate.

// Message is one pub/sub message ("message" event).
type Message struct {
	Channel string
	Seq     uint64
	// Data is the published payload as raw JSON, exactly as received.
	Data json.RawMessage
}

// parseMessage reads the first argument of a "message" event. It takes
// the last of duplicate members and treats null as absent; data stays raw
// (a subslice of arg) and any JSON value is accepted there, but the whole
// object must be valid JSON. The channel is read through names (nil:
// unquoted afresh).
func parseMessage(arg []byte, names *socketio.Names) (Message, error) {
	fs := [...]jsonobj.Field{{Key: "channel"}, {Key: "seq"}, {Key: "data"}}
	if err := jsonobj.ObjectFields(arg, fs[:]); err != nil {
		return Message{}, fmt.Errorf("%w: message: %w", ErrBadAck, err)
	}
	rawCh, rawSeq := fs[0].Raw, fs[1].Raw
	if rawCh == nil || jsonobj.IsNull(rawCh) || rawSeq == nil || jsonobj.IsNull(rawSeq) {
		return Message{}, fmt.Errorf("%w: message without channel or seq", ErrBadAck)
	}
	channel, err := names.Unquote(rawCh)
	if err != nil {
		return Message{}, fmt.Errorf("%w: message channel: %w", ErrBadAck, err)
	}
	seq, err := jsonobj.Uint64(rawSeq)
	if err != nil {
		return Message{}, fmt.Errorf("%w: message seq: %w", ErrBadAck, err)
	}
	return Message{Channel: channel, Seq: seq, Data: fs[2].Raw}, nil
}

// Subscribe subscribes the socket to channel. With since, the server replays
// the retained messages after seq *since before the live ones. It is
// SubscribeAt without the position.
func (s *Socket) Subscribe(ctx context.Context, channel string, since *uint64) error {
	_, _, err := s.SubscribeAt(ctx, channel, since)
	return err
}

// SubscribeAt is Subscribe that also returns the position the ack carries
// ({"ok":true,"seq":P}), the channel's last seq when the subscription took
// effect: live messages start at P+1 (with since, the replayed ones up to P
// come first), so a caller can check its stream for gaps from the start.
// hasPos is false when the server's ack has no seq.
func (s *Socket) SubscribeAt(ctx context.Context, channel string, since *uint64) (pos uint64, hasPos bool, err error) {
	req := channelRequest(channel)
	if since != nil {
		req = append(req, `,"since":`...)
		req = strconv.AppendUint(req, *since, 10)
	}
	ack, err := s.request(ctx, "subscribe", append(req, '}'))
	if err != nil || ack.Seq == nil {
		return 0, false, err
	}
	return *ack.Seq, true, nil
}

// Unsubscribe ends the socket's subscription to channel.
func (s *Socket) Unsubscribe(ctx context.Context, channel string) error {
	_, err := s.request(ctx, "unsubscribe", append(channelRequest(channel), '}'))
	return err
}

// Publish publishes data (one raw JSON value) to channel and returns the
// seq the server assigned.
func (s *Socket) Publish(ctx context.Context, channel string, data []byte) (uint64, error) {
	if !json.Valid(data) {
		return 0, fmt.Errorf("sioclient: publish %q: data is not valid JSON", channel)
	}
	req := append(channelRequest(channel), `,"data":`...)
	req = append(req, data...)
	ack, err := s.request(ctx, "publish", append(req, '}'))
	if err != nil {
		return 0, err
	}
	if ack.Seq == nil {
		return 0, fmt.Errorf("%w: publish ack without seq", ErrBadAck)
	}
	return *ack.Seq, nil
}

// channelRequest starts {"channel":"<channel>" (JSON-escaped).
func channelRequest(channel string) []byte {
	name, _ := json.Marshal(channel) // a string always marshals
	b := make([]byte, 0, 16+len(name))
	b = append(b, `{"channel":`...)
	return append(b, name...)
}

// pubsubAck is a pub/sub ack read by parseAck.
type pubsubAck struct {
	OK  bool
	Seq *uint64
}

// request emits one pub/sub request and interprets its ack.
func (s *Socket) request(ctx context.Context, event string, body []byte) (pubsubAck, error) {
	reply, err := s.EmitWithAck(ctx, event, body)
	if err != nil {
		return pubsubAck{}, err
	}
	if len(reply.Args) == 0 {
		return pubsubAck{}, fmt.Errorf("%w: %s: empty ack", ErrBadAck, event)
	}
	return parseAck(event, reply.Args[0])
}

// PubSubAck is the answer to a pub/sub request of Baton's reference
// services: {"ok":true,"seq":N} (seq optional) or {"error":...}.
type PubSubAck struct {
	OK     bool
	Seq    uint64
	HasSeq bool
	// Error is the error member's raw JSON (a string, or an object from
	// other services); nil when the answer has none.
	Error []byte
}

// ReadPubSubAck reads a pub/sub answer. It fails (jsonobj.ErrBadJSON)
// only on malformed JSON or a member of the wrong type; null members count
// as absent. Whether the answer is a success is the caller's to judge.
func ReadPubSubAck(arg []byte) (PubSubAck, error) {
	fs := [...]jsonobj.Field{{Key: "ok"}, {Key: "seq"}, {Key: "error"}}
	if err := jsonobj.ObjectFields(arg, fs[:]); err != nil {
		return PubSubAck{}, err
	}
	var a PubSubAck
	var err error
	if raw := fs[0].Raw; raw != nil && !jsonobj.IsNull(raw) {
		if a.OK, err = jsonobj.Bool(raw); err != nil {
			return PubSubAck{}, fmt.Errorf("ok: %w", err)
		}
	}
	if raw := fs[1].Raw; raw != nil && !jsonobj.IsNull(raw) {
		if a.Seq, err = jsonobj.Uint64(raw); err != nil {
			return PubSubAck{}, fmt.Errorf("seq: %w", err)
		}
		a.HasSeq = true
	}
	if raw := fs[2].Raw; raw != nil && !jsonobj.IsNull(raw) {
		a.Error = raw
	}
	return a, nil
}

// parseAck interprets the answer to event: an *AckError for an error
// member, ErrBadAck for anything else that is not {"ok":true,...}.
func parseAck(event string, arg []byte) (pubsubAck, error) {
	a, err := ReadPubSubAck(arg)
	switch {
	case err != nil:
		return pubsubAck{}, fmt.Errorf("%w: %s: %w", ErrBadAck, event, err)
	case a.Error != nil:
		msg, err := jsonobj.Unquote(a.Error)
		if err != nil {
			msg = string(a.Error) // not a string: report the JSON as it came
		}
		return pubsubAck{}, &AckError{Event: event, Message: msg}
	case !a.OK:
		return pubsubAck{}, fmt.Errorf("%w: %s: %s", ErrBadAck, event, arg)
	}
	ack := pubsubAck{OK: true}
	if a.HasSeq {
		ack.Seq = &a.Seq
	}
	return ack, nil
}
