package socketio

import (
	"fmt"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
	"github.com/baton-rt/baton/internal/wire/jsonstr"
)

// SplitEvent splits the payload of an Event packet, `["name",a1,a2,...]`,
// into the event name and the raw JSON of each argument (slices of data,
// without surrounding whitespace). A numeric event name, which the official
// parser allows, is returned as its JSON text ("42"), matching how a Node
// EventEmitter keys it. It allocates the name and the args slice (once for
// up to three args).
func SplitEvent(data []byte) (name string, args [][]byte, err error) {
	return SplitEventTo(make([][]byte, 0, 4), data, nil)
}

// SplitEventTo is SplitEvent for a reader that is done with each event
// before the next: the args are put in dst's array from its start (hand
// back the last call's args to reuse it), and a string name is read
// through names (nil: unquoted afresh). An event with a name seen before
// and fewer args than dst's capacity then costs no allocation.
func SplitEventTo(dst [][]byte, data []byte, names *Names) (name string, args [][]byte, err error) {
	i := jsonobj.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return "", nil, fmt.Errorf("%w: event payload is not an array", ErrBadPacket)
	}
	elems, end, ok := jsonobj.AppendElements(dst[:0], data, i)
	if !ok || jsonobj.SkipSpace(data, end) != len(data) {
		return "", nil, fmt.Errorf("%w: event payload is not valid JSON", ErrBadPacket)
	}
	if len(elems) == 0 {
		return "", nil, fmt.Errorf("%w: event payload is empty", ErrBadPacket)
	}
	first := elems[0]
	switch c := first[0]; {
	case c == '"':
		if name, err = names.Unquote(first); err != nil {
			return "", nil, fmt.Errorf("%w: event name: %w", ErrBadPacket, err)
		}
	case c == '-' || isDigit(c):
		name = string(first)
	default:
		return "", nil, fmt.Errorf("%w: event name is not a string or number", ErrBadPacket)
	}
	// The args move to the array's start, where the next call finds them.
	n := copy(elems, elems[1:])
	clear(elems[n:])
	return name, elems[:n], nil
}

// maxNames bounds a Names table, and maxNameBytes the names it keeps (as
// quoted JSON): a peer sending long names must not make it hold much.
const (
	maxNames     = 256
	maxNameBytes = 256
)

// Names interns the JSON strings a reader meets again and again (event
// and channel names): one seen before is returned without an allocation.
// It keeps at most maxNames, of at most maxNameBytes; past that, and for
// longer ones, names are unquoted afresh. The
// zero value is ready; a nil *Names unquotes every time. Not safe for
// concurrent use.
type Names struct{ m map[string]string }

// Unquote is jsonobj.Unquote, through the table.
func (n *Names) Unquote(raw []byte) (string, error) {
	if n == nil {
		return jsonobj.Unquote(raw)
	}
	if s, ok := n.m[string(raw)]; ok { // keyed by the quoted JSON: no allocation
		return s, nil
	}
	s, err := jsonobj.Unquote(raw)
	if err == nil && len(n.m) < maxNames && len(raw) <= maxNameBytes {
		if n.m == nil {
			n.m = make(map[string]string)
		}
		n.m[string(raw)] = s
	}
	return s, err
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
