package engineio

import (
	"bytes"
	"errors"
	"reflect"
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

// FuzzParseHandshake checks ParseHandshake against the encoding/json decode
// it replaced (stdlibParseHandshake): on every input the two should read
// alike (readAlike), the same verdict and the same Handshake.
func FuzzParseHandshake(f *testing.F) {
	for _, c := range loadGolden(f) {
		for _, p := range c.Packets {
			if p.Type == string(Open) && p.Text != nil {
				f.Add([]byte(*p.Text))
			}
		}
	}
	for _, tc := range handshakeCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := ParseHandshake(in)
		if err != nil && !errors.Is(err, ErrBadHandshake) {
			t.Fatalf("ParseHandshake(%q): %v is not ErrBadHandshake", in, err)
		}
		if err == nil && got.SID == "" {
			t.Fatalf("ParseHandshake(%q) accepted an empty sid", in)
		}
		if !readAlike(in) {
			return
		}
		want, stdErr := stdlibParseHandshake(in)
		switch {
		case err == nil && stdErr != nil:
			t.Fatalf("ParseHandshake(%q) = %#v; encoding/json: %v", in, got, stdErr)
		case err != nil && stdErr == nil:
			t.Fatalf("ParseHandshake(%q): %v; encoding/json read %#v", in, err, want)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("ParseHandshake(%q) = %#v; encoding/json read %#v", in, got, want)
		}
	})
}
