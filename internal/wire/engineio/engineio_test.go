package engineio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// goldenCase is one line of testdata/golden.json, produced by the official
// engine.io-parser (testdata/gen.js).
type goldenCase struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"` // "text" (one packet) or "payload"
	Wire    string `json:"wire"`
	Packets []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
		Hex  *string `json:"hex"`
	} `json:"packets"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	raw, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c goldenCase) want(t *testing.T) []Packet {
	t.Helper()
	var ps []Packet
	for _, g := range c.Packets {
		p := Packet{Type: Type(g.Type[0])}
		switch {
		case g.Hex != nil:
			data, err := hex.DecodeString(*g.Hex)
			if err != nil {
				t.Fatal(err)
			}
			p.Data, p.Binary = data, true
		case g.Text != nil:
			p.Data = []byte(*g.Text)
		}
		ps = append(ps, p)
	}
	return ps
}

func samePackets(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			wire := []byte(c.Wire)
			want := c.want(t)
			var got []Packet
			var enc []byte
			switch c.Kind {
			case "text":
				p, err := DecodeText(wire)
				if err != nil {
					t.Fatalf("DecodeText(%q): %v", wire, err)
				}
				got = []Packet{p}
				enc = AppendText(nil, p)
			case "payload":
				ps, err := DecodePayload(wire)
				if err != nil {
					t.Fatalf("DecodePayload(%q): %v", wire, err)
				}
				got = ps
				enc = AppendPayload(nil, ps)
			default:
				t.Fatalf("unknown kind %q", c.Kind)
			}
			if !samePackets(got, want) {
				t.Errorf("decoded %+v, want %+v", got, want)
			}
			if !bytes.Equal(enc, wire) {
				t.Errorf("re-encoded %q, want %q", enc, wire)
			}
		})
	}
}

func TestDecodeTextErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrEmpty},
		{"7", ErrUnknownType},
		{"x", ErrUnknownType},
		{"/", ErrUnknownType},
		{"\x00", ErrUnknownType},
		{"b!!!!", ErrBadBase64},
		{"bAAE", ErrBadBase64},   // missing padding
		{"bAA==x", ErrBadBase64}, // data after padding
	}
	for _, tt := range tests {
		_, err := DecodeText([]byte(tt.in))
		if !errors.Is(err, tt.want) {
			t.Errorf("DecodeText(%q) error = %v, want %v", tt.in, err, tt.want)
		}
	}
}

func TestDecodeTextAliases(t *testing.T) {
	frame := []byte("4hello")
	p, err := DecodeText(frame)
	if err != nil {
		t.Fatal(err)
	}
	frame[1] = 'j'
	if string(p.Data) != "jello" {
		t.Errorf("Data = %q, want it to alias the frame", p.Data)
	}
	if p, _ := DecodeText([]byte("2")); p.Data != nil {
		t.Errorf("Data of a bare ping = %q, want nil", p.Data)
	}
}

func TestDecodeBinary(t *testing.T) {
	frame := []byte{0, 0x1e, 0xff}
	p := DecodeBinary(frame)
	if p.Type != Message || !p.Binary || !bytes.Equal(p.Data, frame) {
		t.Fatalf("DecodeBinary = %+v", p)
	}
	if got := string(AppendText(nil, p)); got != "bAB7/" {
		t.Errorf("AppendText = %q, want %q", got, "bAB7/")
	}
}

func TestDecodePayloadErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrEmpty},
		{"4a\x1e", ErrEmpty},       // trailing separator: empty last segment
		{"\x1e4a", ErrEmpty},       // leading separator
		{"4a\x1e\x1e4b", ErrEmpty}, // empty middle segment
		{"4a\x1e9", ErrUnknownType},
		{"4a\x1eb**", ErrBadBase64},
		{strings.Repeat("6\x1e", MaxPayloadPackets) + "6", ErrTooManyPackets},
	}
	for _, tt := range tests {
		ps, err := DecodePayload([]byte(tt.in))
		if !errors.Is(err, tt.want) || ps != nil {
			t.Errorf("DecodePayload(%.20q) = %d packets, error %v; want %v", tt.in, len(ps), err, tt.want)
		}
	}
	ps, err := DecodePayload([]byte(strings.Repeat("6\x1e", MaxPayloadPackets-1) + "6"))
	if err != nil || len(ps) != MaxPayloadPackets {
		t.Errorf("payload at the limit: %d packets, error %v", len(ps), err)
	}
}

func TestPacketsStopsEarly(t *testing.T) {
	n := 0
	for range Packets([]byte("2\x1e3\x1e4x")) {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("iterated %d packets, want 2", n)
	}
}

func TestHandshake(t *testing.T) {
	h := Handshake{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}
	p := OpenPacket(h)
	// The bytes the official server sends for the same values (golden "open").
	want := `0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got := string(AppendText(nil, p)); got != want {
		t.Errorf("open packet = %s\nwant %s", got, want)
	}
	back, err := ParseHandshake(p.Data)
	if err != nil || back.SID != h.SID || back.PingInterval != 25000 || len(back.Upgrades) != 1 {
		t.Errorf("ParseHandshake = %+v, %v", back, err)
	}
	if got := OpenPacket(Handshake{SID: "x"}); !bytes.Contains(got.Data, []byte(`"upgrades":[]`)) {
		t.Errorf("nil upgrades encoded as %s, want []", got.Data)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"sid":1}`} {
		if _, err := ParseHandshake([]byte(bad)); !errors.Is(err, ErrBadHandshake) {
			t.Errorf("ParseHandshake(%q) succeeded", bad)
		}
	}
}

func TestTypeString(t *testing.T) {
	if Message.String() != "message" || Type('9').String() != `Type('9')` {
		t.Errorf("String() = %q, %q", Message.String(), Type('9').String())
	}
}
