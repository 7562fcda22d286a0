package wsconn

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// FuzzParseClose: a close frame's payload from the peer is read or refused
// as a protocol error, never a panic; what is read is the payload's code
// and UTF-8 reason, byte for byte.
func FuzzParseClose(f *testing.F) {
	for _, p := range [][]byte{nil, {0x03}, {0x03, 0xe8}, append([]byte{0x03, 0xe9}, "going away"...), {0x03, 0xe8, 0xff}, {0x0f, 0xa0, 'x'}, {0, 0}, {0x03, 0xed}} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		ce, err := parseClose(p)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseClose(%x): %v, want ErrProtocol", p, err)
			}
			if len(p) != 1 && utf8.Valid(p[min(2, len(p)):]) {
				t.Fatalf("parseClose(%x) refused a well-formed payload: %v", p, err)
			}
			return
		}
		if len(p) == 0 {
			if ce.Code != websocket.StatusNoStatusRcvd || ce.Reason != "" {
				t.Fatalf("empty payload read as %+v", ce)
			}
			return
		}
		if !utf8.ValidString(ce.Reason) {
			t.Fatalf("parseClose(%x): reason %q is not UTF-8", p, ce.Reason)
		}
		if again := append([]byte{byte(ce.Code >> 8), byte(ce.Code)}, ce.Reason...); !bytes.Equal(again, p) {
			t.Fatalf("parseClose(%x) = %+v, which encodes as %x", p, ce, again)
		}
	})
}
