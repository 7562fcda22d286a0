package socketio

import (
	"fmt"
	"math"
	"strconv"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

// Decode parses the text of one Engine.IO message as a Socket.IO packet.
// Data aliases b; Namespace is a new string unless it is "/".
//
// It accepts what the official parser accepts, with these deliberate
// differences:
//   - Event, Ack and their binary forms must carry a payload (the official
//     decoder lets an absent one through; its encoder never sends one).
//   - The payload must start right after the header: leading whitespace is
//     rejected, because the official decoder would read it as an ack id.
//   - Counts and ack ids are plain ASCII digits that fit in int64.
//   - Reserved event names are not checked here.
func Decode(b []byte) (Packet, error) { return decode(b, "") }

// decode is Decode reusing known as the Namespace string when the bytes
// match, which saves the allocation for a connection's usual namespace.
func decode(b []byte, known string) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("%w: empty", ErrBadPacket)
	}
	p := Packet{Type: Type(b[0] - '0'), Namespace: "/"}
	if !p.Type.Valid() {
		return Packet{}, fmt.Errorf("%w: unknown type %q", ErrBadPacket, b[0])
	}
	i := 1
	if p.Type.IsBinary() {
		n, end := parseUint(b, i)
		if end == i || end >= len(b) || b[end] != '-' || n < 1 || n > math.MaxInt32 {
			return Packet{}, fmt.Errorf("%w: bad attachment count", ErrBadPacket)
		}
		p.Attachments = int(n)
		i = end + 1
	}
	if i < len(b) && b[i] == '/' {
		end := i
		for end < len(b) && b[end] != ',' {
			end++
		}
		switch nsp := b[i:end]; string(nsp) {
		case "/":
		case known:
			p.Namespace = known
		default:
			p.Namespace = string(nsp)
		}
		i = min(end+1, len(b)) // skip the comma, if any
	}
	if i < len(b) && isDigit(b[i]) {
		n, end := parseUint(b, i)
		if n < 0 {
			return Packet{}, fmt.Errorf("%w: ack id overflows", ErrBadPacket)
		}
		p.ID, p.HasID = n, true
		i = end
	}
	if i < len(b) {
		p.Data = b[i:]
	}
	if err := checkData(p.Type, p.Data); err != nil {
		return Packet{}, err
	}
	return p, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseUint reads the ASCII digits at b[i:] and returns their value and the
// index after them; the value is -1 if it overflows int64.
func parseUint(b []byte, i int) (int64, int) {
	var n int64
	for ; i < len(b) && isDigit(b[i]); i++ {
		d := int64(b[i] - '0')
		if n < 0 || n > (math.MaxInt64-d)/10 {
			n = -1 // keep consuming digits, report overflow
			continue
		}
		n = n*10 + d
	}
	return n, i
}

// checkData applies the payload rules of the official parser
// (isPayloadValid) for packet type t, plus the differences listed on Decode.
func checkData(t Type, data []byte) error {
	if data == nil {
		switch t {
		case Connect, Disconnect, ConnectError:
			return nil
		}
		return fmt.Errorf("%w: %v without payload", ErrBadPacket, t)
	}
	if t == Disconnect {
		return fmt.Errorf("%w: DISCONNECT with payload", ErrBadPacket)
	}
	if jsonobj.IsSpace(data[0]) || !jsonobj.Valid(data) {
		return fmt.Errorf("%w: %v payload is not valid JSON", ErrBadPacket, t)
	}
	ok := false
	switch t {
	case Connect:
		ok = data[0] == '{'
	case ConnectError:
		ok = data[0] == '{' || data[0] == '"'
	case Event, BinaryEvent:
		// A non-empty array whose first element (the event name) is a
		// string or a number.
		if data[0] == '[' {
			c := data[jsonobj.SkipSpace(data, 1)]
			ok = c == '"' || c == '-' || isDigit(c)
		}
	case Ack, BinaryAck:
		ok = data[0] == '['
	}
	if !ok {
		return fmt.Errorf("%w: invalid %v payload", ErrBadPacket, t)
	}
	return nil
}

// Append appends the wire text of p to dst. It writes the parts as given:
// Namespace (omitted when "" or "/") should start with '/' and hold no
// comma, Data should be valid JSON, and Attachments is written only for
// the binary types. Append(nil, p) returns exactly the input of Decode for
// every packet the official encoder produces.
func Append(dst []byte, p Packet) []byte {
	dst = append(dst, '0'+byte(p.Type))
	if p.Type.IsBinary() {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
