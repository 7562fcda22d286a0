package legacy

import (
	"errors"

	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// maxDepth bounds the nesting of data values so hostile input cannot
// exhaust the stack.
const maxDepth = 512

// field indexes the keys Decode understands; other keys are skipped.
type field int

const (
	fType field = iota
	fID
	fChannel
	fSeq
	fSince
	fData
	fSession
	fCode
	fMessage
	numFields
)

var fieldNames = [numFields]string{"type", "id", "channel", "seq", "since", "data", "session", "code", "message"}

// lookupField finds the field named by key, given without quotes.
// Converting key inside the comparison does not allocate.
func lookupField(key []byte) (field, bool) {
	for i, n := range fieldNames {
		if string(key) == n {
			return field(i), true
		}
	}
	return 0, false
}

// Decode parses one frame. It validates the whole frame as JSON, then the
// fields its type requires (see docs/protocols/legacy.md). Fields that the
// type does not use, and unknown keys, are ignored. A frame with an unknown
// type is returned without error, with Type, Raw and (when it is a valid
// request id) ID set, so the caller can decide what to do with it.
//
// On a field error (ErrMissingField, ErrBadField) the returned Frame still
// holds Raw, the Type when it was readable, and the ID when it was a valid
// number, so that the error can be answered to the right request. On
// ErrMalformed it is empty.
//
// The returned Frame's Data and Raw alias b; copy them to keep them past
// b's reuse.
func Decode(b []byte) (Frame, error) { return (*Decoder)(nil).Decode(b) }

// maxChannelNames bounds a Decoder's cache of channel names, and
// maxCachedName the names it keeps (as quoted JSON).
const (
	maxChannelNames = 1024
	maxCachedName   = 256
)

// Decoder decodes frames as Decode does, and keeps the channel names of
// the messages it has decoded, so that a connection's stream of messages
// shares one string per channel instead of allocating one per message.
// It keeps at most maxChannelNames names of at most maxCachedName bytes
// (so a peer sending long names cannot make it hold much); past that,
// names are allocated as by Decode. The zero value is ready; a nil *Decoder keeps no names.
// A Decoder is not safe for concurrent use.
type Decoder struct {
	channels map[string]string
}

// channel returns the message's channel name v, from the cache when it is
// there.
func (d *Decoder) channel(v []byte) (string, error) {
	if d == nil || len(v) < 2 || v[0] != '"' {
		return stringField(v, "channel")
	}
	if s, ok := d.channels[string(v[1:len(v)-1])]; ok { // no allocation
		return s, nil
	}
	s, err := stringField(v, "channel")
	if err == nil && len(d.channels) < maxChannelNames && len(v) <= maxCachedName {
		if d.channels == nil {
			d.channels = make(map[string]string)
		}
		key := s // one string for both when the name has no escapes
		if raw := v[1 : len(v)-1]; string(raw) != s {
			key = string(raw)
		}
		d.channels[key] = s
	}
	return s, err
}

// Decode parses one frame; see the package-level Decode.
func (d *Decoder) Decode(b []byte) (Frame, error) {
	var raw [numFields][]byte
	s := scanner{b: b}
	if err := s.object(&raw); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) { // a duplicate key: the JSON itself is fine
			return partial(raw, "", b), err
		}
		return Frame{}, err
	}
	f := Frame{Raw: b}

	t, err := typeField(raw[fType])
	if err != nil {
		return partial(raw, "", b), err
	}
	f.Type = t

	if !Known(t) {
		// Opaque event: only the id is of interest, and only if usable.
		if id, err := uintField(raw[fID], "id"); err == nil && id > 0 {
			f.ID = id
		}
		return f, nil
	}

	need := func(fl field) error {
		if raw[fl] == nil {
			return missing(fieldNames[fl])
		}
		return nil
	}
	var first error // the first problem found is the one reported
	check := func(err error) {
		if first == nil {
			first = err
		}
	}
	switch t {
	case TypeSubscribe, TypeUnsubscribe, TypePublish, TypePing, TypePong:
		if err := need(fID); err != nil {
			return Frame{}, err
		}
		f.ID, err = requestID(raw[fID])
		check(err)
		if t == TypePing || t == TypePong {
			break
		}
		check(need(fChannel))
		f.Channel, err = stringField(raw[fChannel], "channel")
		check(err)
		if t == TypeSubscribe && raw[fSince] != nil {
			f.Since, err = uintField(raw[fSince], "since")
			f.HasSince = err == nil
			check(err)
		}
		if t == TypePublish {
			check(need(fData))
			f.Data = raw[fData]
		}
	case TypeAck:
		check(need(fID))
		f.ID, err = requestID(raw[fID])
		check(err)
		if raw[fSeq] != nil {
			f.Seq, err = uintField(raw[fSeq], "seq")
			f.HasSeq = err == nil
			check(err)
		}
	case TypeMessage:
		check(need(fChannel))
		f.Channel, err = d.channel(raw[fChannel])
		check(err)
		check(need(fSeq))
		f.Seq, err = uintField(raw[fSeq], "seq")
		f.HasSeq = err == nil
		check(err)
		check(need(fData))
		f.Data = raw[fData]
	case TypeWelcome:
		check(need(fSession))
		f.Session, err = stringField(raw[fSession], "session")
		check(err)
	case TypeError:
		if raw[fID] != nil {
			f.ID, err = uintField(raw[fID], "id")
			check(err)
		}
		check(need(fCode))
		f.Code, err = stringField(raw[fCode], "code")
		check(err)
		f.Message, err = stringField(raw[fMessage], "message")
		check(err)
		f.Channel, err = stringField(raw[fChannel], "channel")
		check(err)
	}
	if first != nil {
		return partial(raw, f.Type, b), first
	}
	return f, nil
}

// partial is what Decode returns with a field error: enough to answer it.
func partial(raw [numFields][]byte, typ string, b []byte) Frame {
	f := Frame{Type: typ, Raw: b}
	if id, err := uintField(raw[fID], "id"); err == nil {
		f.ID = id
	}
	return f
}

// typeField returns the frame type, using the package's constants for known
// types so that decoding them does not allocate.
func typeField(v []byte) (string, error) {
	if v == nil {
		return "", missing("type")
	}
	if v[0] == '"' {
		switch string(v[1 : len(v)-1]) {
		case TypeSubscribe:
			return TypeSubscribe, nil
		case TypeUnsubscribe:
			return TypeUnsubscribe, nil
		case TypePublish:
			return TypePublish, nil
		case TypePing:
			return TypePing, nil
		case TypeWelcome:
			return TypeWelcome, nil
		case TypeAck:
			return TypeAck, nil
		case TypeMessage:
			return TypeMessage, nil
		case TypePong:
			return TypePong, nil
		case TypeError:
			return TypeError, nil
		}
	}
	t, err := stringField(v, "type")
	if err == nil && t == "" {
		err = bad("type", "empty")
	}
	return t, err
}

// requestID parses a request id, which must be an integer >= 1.
func requestID(v []byte) (uint64, error) {
	id, err := uintField(v, "id")
	if err == nil && id == 0 {
		return 0, bad("id", "must be >= 1")
	}
	return id, err
}

// uintField parses a JSON number that must be a non-negative integer
// fitting 64 bits. An absent value (nil) yields 0 and no error.
func uintField(v []byte, name string) (uint64, error) {
	if v == nil {
		return 0, nil
	}
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, bad(name, "not a number")
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, bad(name, "not a non-negative integer")
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, bad(name, "out of range")
		}
		n = n*10 + d
	}
	return n, nil
}

// stringField returns the JSON string v unquoted. An absent value (nil)
// yields "" and no error.
func stringField(v []byte, name string) (string, error) {
	if v == nil {
		return "", nil
	}
	if v[0] != '"' {
		return "", bad(name, "not a string")
	}
	s, ok := unquote(v)
	if !ok {
		return "", bad(name, "invalid UTF-8")
	}
	return s, nil
}

// unquote decodes a JSON string token that the scanner already validated.
// It reports false when the token is not valid UTF-8.
func unquote(v []byte) (string, bool) {
	return jsonstr.Unquote(v[1 : len(v)-1])
}
