package socketio

import (
	"fmt"

	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// SplitEvent splits the payload of an Event packet, `["name",a1,a2,...]`,
// into the event name and the raw JSON of each argument (slices of data,
// without surrounding whitespace). A numeric event name, which the official
// parser allows, is returned as its JSON text ("42"), matching how a Node
// EventEmitter keys it. It allocates the name and the args slice (once for
// up to three args).
func SplitEvent(data []byte) (name string, args [][]byte, err error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return "", nil, fmt.Errorf("%w: event payload is not an array", ErrBadPacket)
	}
	elems, end, ok := splitArray(data, i)
	if !ok || skipSpace(data, end) != len(data) {
		return "", nil, fmt.Errorf("%w: event payload is not valid JSON", ErrBadPacket)
	}
	if len(elems) == 0 {
		return "", nil, fmt.Errorf("%w: event payload is empty", ErrBadPacket)
	}
	first := elems[0]
	switch c := first[0]; {
	case c == '"':
		if name, err = Unquote(first); err != nil {
			return "", nil, fmt.Errorf("%w: event name: %w", ErrBadPacket, err)
		}
	case c == '-' || isDigit(c):
		name = string(first)
	default:
		return "", nil, fmt.Errorf("%w: event name is not a string or number", ErrBadPacket)
	}
	return name, elems[1:], nil
}

// splitArray scans the array starting at b[i] == '[' and returns its
// elements, the index after it and whether it is well formed.
func splitArray(b []byte, i int) (elems [][]byte, end int, ok bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil, i + 1, true
	}
	elems = make([][]byte, 0, 4) // one allocation for the usual name and few args
	for {
		start := i
		if i = scanValue(b, i, 1); i < 0 {
			return nil, 0, false
		}
		elems = append(elems, b[start:i:i])
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ']':
			return elems, i + 1, true
		case ',':
			i = skipSpace(b, i+1)
		default:
			return nil, 0, false
		}
	}
}

// AppendEvent appends the payload of an Event packet, `["name",a1,...]`, to
// dst. Each arg must be valid JSON; it is copied as is. The name is quoted
// as JSON.stringify would (invalid UTF-8 becomes U+FFFD).
func AppendEvent(dst []byte, name string, args ...[]byte) []byte {
	dst = append(dst, '[')
	dst = AppendString(dst, name)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// AppendArgs appends `[a1,...]`, the payload of an Ack packet, to dst. Each
// arg must be valid JSON; it is copied as is.
func AppendArgs(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// AppendString appends s as a JSON string literal, escaped the way
// JSON.stringify escapes (so the bytes match what a Node peer sends): '"',
// '\\' and control characters only; other characters, including '<', '&'
// and U+2028, stay literal. Invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	return jsonstr.Append(dst, s, jsonstr.JS)
}
