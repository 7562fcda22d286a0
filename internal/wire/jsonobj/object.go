package jsonobj

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// ErrBadJSON: the input is not the JSON the caller asked for: malformed, or
// a value of the wrong type or out of range. Its text names no package: the
// services and the gateway's edge quote it to clients in bad_request
// replies.
var ErrBadJSON = errors.New("bad JSON")

// Field names one top-level member for ObjectFields to find.
type Field struct {
	// Key is compared with the member's key once unescaped, exactly
	// (unlike encoding/json, which also accepts a case-insensitive match).
	Key string
	// Raw is set by ObjectFields to the raw JSON of the member's value
	// (without surrounding whitespace; "null" stays "null"), or nil when
	// the object has no such member.
	Raw []byte
}

// ObjectFields checks that obj is exactly one well-formed JSON object
// (whitespace around it allowed; nested values are validated too, up to
// MaxDepth) and sets the Raw of each field. Each Raw is a subslice of obj
// with its capacity cut to its length, so appending to it never overwrites
// obj. On error the fields' Raw are unspecified. It does
// not allocate unless a key is escaped or not ASCII (or on error), and it
// never panics.
//
// Duplicate keys: the last member with a key wins, as it does when
// encoding/json decodes into a struct. Earlier duplicates are checked for
// syntax only; encoding/json would also reject them when their type does
// not fit the Go field, and would ignore a final null for a non-pointer
// field. Baton's callers treat null as absent, like a pointer field.
func ObjectFields(obj []byte, fields []Field) error {
	for i := range fields {
		fields[i].Raw = nil
	}
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return syntaxErr("not a JSON object", i)
	}
	i = SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return trailing(obj, i+1)
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return syntaxErr("want a string key", i)
		}
		kend := scanString(obj, i)
		if kend < 0 {
			return syntaxErr("malformed key", i)
		}
		key := obj[i:kend]
		i = SkipSpace(obj, kend)
		if i >= len(obj) || obj[i] != ':' {
			return syntaxErr("want ':' after key", i)
		}
		vstart := SkipSpace(obj, i+1)
		vend := scanValue(obj, vstart, 1)
		if vend < 0 {
			return syntaxErr("malformed value", vstart)
		}
		if f := lookupField(fields, key); f != nil {
			f.Raw = obj[vstart:vend:vend]
		}
		i = SkipSpace(obj, vend)
		if i >= len(obj) {
			return syntaxErr("unterminated object", i)
		}
		switch obj[i] {
		case '}':
			return trailing(obj, i+1)
		case ',':
			i = SkipSpace(obj, i+1)
		default:
			return syntaxErr("want ',' or '}'", i)
		}
	}
}

// trailing accepts only whitespace after the object ending at i.
func trailing(obj []byte, i int) error {
	if i = SkipSpace(obj, i); i != len(obj) {
		return syntaxErr("data after the object", i)
	}
	return nil
}

func syntaxErr(why string, offset int) error {
	return fmt.Errorf("%w: %s at offset %d", ErrBadJSON, why, offset)
}

// lookupField returns the field whose Key the string literal lit spells,
// or nil. A key without escapes and in ASCII (every key in practice) is
// compared in place.
func lookupField(fields []Field, lit []byte) *Field {
	body := lit[1 : len(lit)-1]
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		for i := range fields {
			if string(body) == fields[i].Key {
				return &fields[i]
			}
		}
		return nil
	}
	key, _ := jsonstr.Unquote(body) // lit was scanned: it is well formed
	for i := range fields {
		if key == fields[i].Key {
			return &fields[i]
		}
	}
	return nil
}

// Unquote decodes a JSON string literal as encoding/json does: escapes
// resolved, an unpaired surrogate escape or a byte of invalid UTF-8 turned
// into U+FFFD. A literal without escapes in valid UTF-8 costs one
// allocation (none when empty).
func Unquote(raw []byte) (string, error) {
	if len(raw) == 0 || raw[0] != '"' || scanString(raw, 0) != len(raw) {
		return "", fmt.Errorf("%w: not a JSON string", ErrBadJSON)
	}
	s, _ := jsonstr.Unquote(raw[1 : len(raw)-1]) // invalid UTF-8 reads as U+FFFD
	return s, nil
}

// Uint64 reads a JSON number that is a non-negative integer without
// fraction or exponent and fits in 64 bits, as encoding/json accepts for a
// uint64 field ("-1", "-0", "1.0", "1e3" and 2^64 are errors).
func Uint64(raw []byte) (uint64, error) {
	if !isIntLiteral(raw) || raw[0] == '-' {
		return 0, fmt.Errorf("%w: %.32q is not an unsigned integer", ErrBadJSON, raw)
	}
	n, ok := digitsValue(raw, math.MaxUint64)
	if !ok {
		return 0, fmt.Errorf("%w: %.32q overflows uint64", ErrBadJSON, raw)
	}
	return n, nil
}

// Int reads a JSON number that is an integer without fraction or exponent
// and fits in 64 bits, as encoding/json accepts for an int64 field ("-0"
// is 0; "1.0", "1e3" and 2^63 are errors).
func Int(raw []byte) (int64, error) {
	if !isIntLiteral(raw) {
		return 0, fmt.Errorf("%w: %.32q is not an integer", ErrBadJSON, raw)
	}
	neg := raw[0] == '-'
	digits, limit := raw, uint64(math.MaxInt64)
	if neg {
		digits, limit = raw[1:], -math.MinInt64
	}
	n, ok := digitsValue(digits, limit)
	if !ok {
		return 0, fmt.Errorf("%w: %.32q overflows int64", ErrBadJSON, raw)
	}
	if neg {
		return int64(-n), nil // two's complement: n = 2^63 gives MinInt64
	}
	return int64(n), nil
}

// digitsValue returns the value of the ASCII digits d, or false when it
// is above limit.
func digitsValue(d []byte, limit uint64) (uint64, bool) {
	var n uint64
	for _, c := range d {
		v := uint64(c - '0')
		if n > (limit-v)/10 {
			return 0, false
		}
		n = n*10 + v
	}
	return n, true
}

// isIntLiteral reports whether raw is -?(0|[1-9][0-9]*).
func isIntLiteral(raw []byte) bool {
	d := raw
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || (d[0] == '0' && len(d) > 1) {
		return false
	}
	for _, c := range d {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// Bool reads the literal true or false.
func Bool(raw []byte) (bool, error) {
	switch string(raw) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%w: %.32q is not a boolean", ErrBadJSON, raw)
}

// IsNull reports whether raw is the literal null.
func IsNull(raw []byte) bool { return string(raw) == "null" }

// SplitArray checks that data is exactly one JSON array and returns the
// raw JSON of its elements (subslices of data, capacity cut to length).
func SplitArray(data []byte) ([][]byte, error) {
	i := SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, syntaxErr("not a JSON array", i)
	}
	elems, end, ok := AppendElements(nil, data, i)
	if !ok {
		return nil, syntaxErr("malformed array", i)
	}
	if err := trailing(data, end); err != nil {
		return nil, err
	}
	return elems, nil
}

// AppendElements scans the array starting at b[i], which must be '[', and
// appends the raw JSON of its elements to elems (subslices of b, capacity
// cut to length). It returns them, the index just after the array and
// whether the array is well formed; what follows the array is the
// caller's to check. A nil elems gets a fresh array with room for a few
// elements, allocated only when there is one; a reader that splits many
// arrays can hand back the last result, truncated, to reuse its array.
func AppendElements(elems [][]byte, b []byte, i int) ([][]byte, int, bool) {
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return elems, i + 1, true
	}
	if elems == nil {
		elems = make([][]byte, 0, 4) // one allocation for the usual event name and few args
	}
	for {
		start := i
		if i = scanValue(b, i, 1); i < 0 {
			return nil, 0, false
		}
		elems = append(elems, b[start:i:i])
		i = SkipSpace(b, i)
		if i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ']':
			return elems, i + 1, true
		case ',':
			i = SkipSpace(b, i+1)
		default:
			return nil, 0, false
		}
	}
}
