package engineio

import (
	"bytes"
	"fmt"
	"iter"
)

// MaxPayloadPackets bounds the number of packets DecodePayload accepts in
// one polling body. The official client batches everything it has buffered
// into one POST, bounded only in bytes (maxPayload, 1 MB by default), so a
// byte bound alone would let a body of one-byte segments cost ~40 bytes of
// Packet per input byte. 4096 is far above what a client flushes in one
// round trip; use Packets to walk a larger payload without this limit.
const MaxPayloadPackets = 4096

// DecodePayload decodes an HTTP long-polling body: packets in text form
// separated by 0x1e. Data of each packet aliases body (except base64 binary
// messages). Every segment must be a valid packet; the first bad segment
// fails the whole payload, as the official parser does. It returns
// ErrTooManyPackets beyond MaxPayloadPackets.
func DecodePayload(body []byte) ([]Packet, error) {
	n := bytes.Count(body, []byte{Separator}) + 1
	if n > MaxPayloadPackets {
		return nil, fmt.Errorf("%w: %d > %d", ErrTooManyPackets, n, MaxPayloadPackets)
	}
	ps := make([]Packet, 0, n)
	for p, err := range Packets(body) {
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Packets iterates over the packets of a polling body without collecting
// them. It yields each packet in order; on a bad segment it yields the
// error (wrapped with the segment index) and stops. It does not allocate
// except for base64 binary messages.
func Packets(body []byte) iter.Seq2[Packet, error] {
	return func(yield func(Packet, error) bool) {
		for i := 0; ; i++ {
			seg, rest, more := bytes.Cut(body, []byte{Separator})
			p, err := DecodeText(seg)
			if err != nil {
				yield(Packet{}, fmt.Errorf("payload packet %d: %w", i, err))
				return
			}
			if !yield(p, nil) || !more {
				return
			}
			body = rest
		}
	}
}

// AppendPayload appends the polling form of ps to dst: each packet in text
// form (binary messages as base64), separated by 0x1e.
func AppendPayload(dst []byte, ps []Packet) []byte {
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = AppendText(dst, p)
	}
	return dst
}
