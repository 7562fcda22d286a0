package socketio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// goldenCase is one line of testdata/golden.json, produced by the official
// socket.io-parser (testdata/gen.js).
type goldenCase struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"` // "encode": official encoder output; "decode", "binary": hand-written input
	Wire        string   `json:"wire"`
	Attachments []string `json:"attachments"`
	Node        string   `json:"node"` // the official decoder's verdict: "ok" or "error: ..."
	// Decoder is, for "binary" cases, the official decoder's verdict once
	// fed the header and its attachments.
	Decoder string `json:"decoder"`
	Packet  *struct {
		Type        int     `json:"type"`
		Nsp         string  `json:"nsp"`
		ID          *int64  `json:"id"`
		Attachments int     `json:"attachments"`
		Data        *string `json:"data"`
	} `json:"packet"`
}

// Where we differ from the official decoder on purpose (see Decode).
var deliberate = map[string]string{
	"empty":                   "the official decoder reads \"\" as CONNECT",
	"event nsp without comma": "the official decoder accepts an EVENT without payload",
	"reserved event name":     "reserved names are the server's business",
	"leading whitespace":      "the official decoder reads the whitespace as ack id 0",
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

func (c goldenCase) binary(t *testing.T) [][]byte {
	t.Helper()
	var bins [][]byte
	for _, h := range c.Attachments {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		bins = append(bins, b)
	}
	return bins
}

func TestGolden(t *testing.T) {
	for _, c := range loadGolden(t) {
		if c.Kind == "binary" {
			continue // TestGoldenDecoder
		}
		t.Run(c.Name, func(t *testing.T) {
			p, err := Decode([]byte(c.Wire))
			if why, ok := deliberate[c.Name]; ok {
				if (err == nil) == (c.Node == "ok") {
					t.Fatalf("expected to differ from the official decoder (%s): got err=%v, node %s", why, err, c.Node)
				}
				return
			}
			if c.Node != "ok" {
				if err == nil {
					t.Fatalf("Decode(%q) = %+v, official decoder says %s", c.Wire, p, c.Node)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", c.Wire, err)
			}
			w := c.Packet
			if int(p.Type) != w.Type || p.Namespace != w.Nsp || p.HasID != (w.ID != nil) ||
				(w.ID != nil && p.ID != *w.ID) || p.Attachments != w.Attachments {
				t.Errorf("Decode(%q) = %+v, want %+v", c.Wire, p, *w)
			}
			if (p.Data != nil) != (w.Data != nil) {
				t.Fatalf("Data = %q, want %v", p.Data, w.Data)
			}
			if w.Data != nil && !sameJSON(t, p.Data, []byte(*w.Data)) {
				t.Errorf("Data = %s, want %s", p.Data, *w.Data)
			}
			if c.Kind != "encode" {
				return
			}
			// Official encoder output: byte-exact data and re-encoding.
			if w.Data != nil && string(p.Data) != *w.Data {
				t.Errorf("Data = %s, want exactly %s", p.Data, *w.Data)
			}
			if got := Append(nil, p); string(got) != c.Wire {
				t.Errorf("Append = %q, want %q", got, c.Wire)
			}
			checkDecoderAndEncode(t, c.Wire, c.binary(t))
		})
	}
}

// A binary packet whose placeholders stand for no attachment (past the
// count, negative, not a number) is refused as the official decoder
// refuses it ("illegal attachments"): a server closes the client that
// sent it. The header alone is one Decode accepts, as the official
// decoder does before the attachments are in.
func TestGoldenDecoder(t *testing.T) {
	for _, c := range loadGolden(t) {
		if c.Kind != "binary" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			if _, err := Decode([]byte(c.Wire)); (err == nil) != (c.Node == "ok") {
				t.Fatalf("Decode(%q): %v, official decoder says %s", c.Wire, err, c.Node)
			}
			var d Decoder
			bins := c.binary(t)
			_, complete, err := d.Text([]byte(c.Wire))
			for i := 0; err == nil && i < len(bins); i++ {
				_, complete, err = d.Binary(bins[i])
			}
			switch {
			case c.Decoder == "ok" && (err != nil || !complete):
				t.Fatalf("Decoder on %q with %d attachments: complete=%v err=%v, official decoder says ok", c.Wire, len(bins), complete, err)
			case c.Decoder != "ok" && err == nil:
				t.Fatalf("Decoder accepted %q with %d attachments (complete=%v), official decoder says %s", c.Wire, len(bins), complete, c.Decoder)
			case err != nil && d.Awaiting():
				t.Fatalf("awaiting after error %v", err)
			}
		})
	}
}

// checkDecoderAndEncode feeds one official packet with its attachments
// through a Decoder and back through Encode.
func checkDecoderAndEncode(t *testing.T, wire string, bins [][]byte) {
	t.Helper()
	var d Decoder
	m, complete, err := d.Text([]byte(wire))
	if err != nil || complete != (len(bins) == 0) {
		t.Fatalf("Decoder.Text: complete=%v err=%v", complete, err)
	}
	for i, b := range bins {
		m, complete, err = d.Binary(b)
		if err != nil || complete != (i == len(bins)-1) {
			t.Fatalf("Decoder.Binary #%d: complete=%v err=%v", i, complete, err)
		}
	}
	if len(m.Binary) != len(bins) || (len(bins) > 0 && !reflect.DeepEqual(m.Binary, bins)) {
		t.Fatalf("Binary = %x, want %x", m.Binary, bins)
	}
	text, out := Encode(m)
	if string(text) != wire || len(out) != len(bins) || (len(bins) > 0 && !reflect.DeepEqual(out, bins)) {
		t.Errorf("Encode = %q %x, want %q %x", text, out, wire, bins)
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// The name quoting of AppendEvent must match JSON.stringify byte for byte.
func TestAppendEventMatchesOfficial(t *testing.T) {
	for _, c := range loadGolden(t) {
		if c.Kind != "encode" || (c.Wire[0] != '2' && c.Wire[0] != '5') {
			continue
		}
		p, err := Decode([]byte(c.Wire))
		if err != nil {
			t.Fatal(err)
		}
		name, args, err := SplitEvent(p.Data)
		if err != nil {
			t.Fatalf("%s: SplitEvent: %v", c.Name, err)
		}
		if p.Data[1] != '"' {
			continue // numeric name: AppendEvent writes names as strings
		}
		if got := AppendEvent(nil, name, args...); !bytes.Equal(got, p.Data) {
			t.Errorf("%s: AppendEvent = %s, want %s", c.Name, got, p.Data)
		}
	}
}
