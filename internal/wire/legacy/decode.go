package legacy

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
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
func Decode(b []byte) (Frame, error) {
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
		f.Channel, err = stringField(raw[fChannel], "channel")
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
// It reports false when the result is not valid UTF-8.
func unquote(v []byte) (string, bool) {
	body := v[1 : len(v)-1]
	esc := false
	for _, c := range body {
		if c == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		return string(body), utf8.Valid(body)
	}
	out := make([]byte, 0, len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch body[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(body[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				// A lone surrogate becomes U+FFFD, as in encoding/json.
				r2 := utf8.RuneError
				if i+6 < len(body) && body[i+1] == '\\' && body[i+2] == 'u' {
					r2 = hex4(body[i+3 : i+7])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, body[i])
		}
	}
	return string(out), utf8.Valid(out)
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// scanner validates JSON (RFC 8259) and slices out values without
// decoding them.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(msg string) error { return &SyntaxError{Offset: s.i, Msg: msg} }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object scans the top-level object, storing the raw value of every known
// key in raw, and requires nothing but whitespace after it.
func (s *scanner) object(raw *[numFields][]byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.fail("want a JSON object")
	}
	s.i++
	s.ws()
	var dup error
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			kstart := s.i
			if err := s.str(); err != nil {
				return err
			}
			key := s.b[kstart:s.i]
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.fail("want ':' after object key")
			}
			s.i++
			s.ws()
			vstart := s.i
			if err := s.value(1); err != nil {
				return err
			}
			if err := store(raw, key, s.b[vstart:s.i]); err != nil && dup == nil {
				dup = err // reported once the whole frame is known to be JSON
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.fail("unterminated object")
			}
			if s.b[s.i] == '}' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return s.fail("want ',' or '}' in object")
			}
			s.i++
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the object")
	}
	return dup
}

// store records val if key (a string token, quotes included) names a known
// field. Escaped keys are rare and take the slow path.
func store(raw *[numFields][]byte, key, val []byte) error {
	name := key[1 : len(key)-1]
	for _, c := range name {
		if c == '\\' {
			k, _ := unquote(key)
			name = []byte(k)
			break
		}
	}
	f, ok := lookupField(name)
	if !ok {
		return nil
	}
	if raw[f] != nil {
		return bad(fieldNames[f], "appears twice")
	}
	raw[f] = val
	return nil
}

// value scans one JSON value of any kind.
func (s *scanner) value(depth int) error {
	if depth > maxDepth {
		return s.fail("nested too deep")
	}
	if s.i >= len(s.b) {
		return s.fail("want a value")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{':
		return s.container(depth, '}', true)
	case c == '[':
		return s.container(depth, ']', false)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail("want a value")
}

// container scans an object (keyed) or array after its opening bracket.
func (s *scanner) container(depth int, end byte, keyed bool) error {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return nil
	}
	for {
		s.ws()
		if keyed {
			if err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.fail("want ':' after object key")
			}
			s.i++
			s.ws()
		}
		if err := s.value(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated container")
		}
		switch s.b[s.i] {
		case end:
			s.i++
			return nil
		case ',':
			s.i++
		default:
			return s.fail("want ',' or closing bracket")
		}
	}
}

// str scans a string token, validating escapes; raw bytes >= 0x20 pass.
func (s *scanner) str() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.fail("want a string")
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c < 0x20:
			return s.fail("control character in string")
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.fail("unterminated escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) || !isHex4(s.b[s.i+1:s.i+5]) {
					return s.fail("bad \\u escape")
				}
				s.i += 5
			default:
				return s.fail("bad escape")
			}
		default:
			s.i++
		}
	}
	return s.fail("unterminated string")
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return s.fail("bad number")
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if !s.digits() {
		return s.fail("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return s.fail("bad number fraction")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.fail("bad number exponent")
		}
	}
	return nil
}

// digits consumes [0-9]+ and reports whether there was at least one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}
