package engineio

import (
	"bytes"
	"testing"
)

func seed(f *testing.F) {
	for _, c := range loadGolden(f) {
		f.Add([]byte(c.Wire))
	}
	for _, s := range []string{"", "b", "b=", "bAA\nAA==", "4\x1e", "7", "\x1e\x1e"} {
		f.Add([]byte(s))
	}
}

// FuzzDecodeText: no panic, and whatever decodes re-encodes to bytes that
// decode to the same packet (base64 input may be non-canonical, e.g. with
// ignored newlines, so byte equality is only required for text packets).
func FuzzDecodeText(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodeText(in)
		if err != nil {
			return
		}
		enc := AppendText(nil, p)
		if !p.Binary && !bytes.Equal(enc, in) {
			t.Fatalf("re-encoded %q, want %q", enc, in)
		}
		back, err := DecodeText(enc)
		if err != nil || !samePackets([]Packet{back}, []Packet{p}) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", in, back, err, p)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		ps, err := DecodePayload(in)
		if err != nil {
			return
		}
		if len(ps) == 0 || len(ps) > MaxPayloadPackets {
			t.Fatalf("%d packets", len(ps))
		}
		enc := AppendPayload(nil, ps)
		back, err := DecodePayload(enc)
		if err != nil || !samePackets(back, ps) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", in, back, err, ps)
		}
	})
}
