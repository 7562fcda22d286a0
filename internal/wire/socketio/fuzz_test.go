package socketio

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/baton-rt/baton/internal/wire/jsonobj"
)

func seedWires(f *testing.F) {
	for _, c := range loadGolden(f) {
		f.Add([]byte(c.Wire))
	}
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Namespace == b.Namespace && a.ID == b.ID && a.HasID == b.HasID &&
		a.Attachments == b.Attachments && bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil)
}

// FuzzDecode: no panic; a decoded packet re-encodes to text that decodes to
// the same packet, and whose re-encoding is stable.
func FuzzDecode(f *testing.F) {
	seedWires(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		if !json.Valid(p.Data) && p.Data != nil {
			t.Fatalf("accepted invalid JSON %q", p.Data)
		}
		enc := Append(nil, p)
		back, err := Decode(enc)
		if err != nil || !samePacket(back, p) {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", in, enc, back, err, p)
		}
		if again := Append(nil, back); !bytes.Equal(again, enc) {
			t.Fatalf("unstable encoding %q then %q", enc, again)
		}
	})
}

// FuzzDecoder feeds a sequence of frames to a Decoder: frames are separated
// by 0x00 and those starting with 'B' are binary. No panic; every complete
// binary message has its announced attachments and survives Encode.
func FuzzDecoder(f *testing.F) {
	for _, c := range loadGolden(f) {
		seq := []byte(c.Wire)
		for _, h := range c.Attachments {
			seq = append(seq, 0, 'B')
			seq = append(seq, h...)
		}
		f.Add(seq)
	}
	f.Add([]byte("B\x0051-[\"e\",1]\x002[\"e\"]\x00Bx"))
	f.Add([]byte(`51-["e",{"_placeholder":true,"num":1}]` + "\x00Bx"))
	f.Add([]byte(`62-3[{"a":{"_placeholder":true,"num":1}},{"_placeholder":true,"num":0}]` + "\x00Bx\x00By"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d := Decoder{MaxAttachments: 4, MaxPacketSize: 256}
		for _, frame := range bytes.Split(in, []byte{0}) {
			var m Message
			var complete bool
			var err error
			if len(frame) > 0 && frame[0] == 'B' {
				m, complete, err = d.Binary(frame[1:])
			} else {
				m, complete, err = d.Text(frame)
			}
			if err != nil {
				if d.Awaiting() {
					t.Fatalf("awaiting after error %v", err)
				}
				continue
			}
			if !complete {
				continue
			}
			if m.Type.IsBinary() != (len(m.Binary) > 0) || len(m.Binary) != m.Attachments {
				t.Fatalf("complete message with %d of %d attachments: %+v", len(m.Binary), m.Attachments, m)
			}
			if m.Type.IsBinary() && refIllegalPlaceholder(t, m.Data, len(m.Binary)) {
				t.Fatalf("complete message %q with %d attachments has a placeholder for none", m.Data, len(m.Binary))
			}
			text, bins := Encode(m)
			if !bytes.Equal(text, Append(nil, m.Packet)) || !reflect.DeepEqual(bins, m.Binary) {
				t.Fatalf("Encode(%+v) = %q %q", m, text, bins)
			}
		}
	})
}

// FuzzPlaceholders: checkPlaceholders refuses exactly the payloads whose
// placeholders the official decoder refuses, as refIllegalPlaceholder,
// written the way socket.io-parser's reconstructPacket is, judges them.
func FuzzPlaceholders(f *testing.F) {
	for _, c := range loadGolden(f) {
		if p, err := Decode([]byte(c.Wire)); err == nil && p.Data != nil {
			f.Add(p.Data, uint8(max(len(c.Attachments), 1)))
		}
	}
	for _, s := range []string{
		`["e",{"_placeholder":true,"num":1}]`,
		`["e",{"_placeholder":true,"num":0.5},{"_placeholder":true,"num":-0}]`,
		`["e",{"_placeholder":true,"num":1e400},{"_placeholder":true,"num":-1e-400}]`,
		`["e",{"_placeholder":true,"num":0.99999999999999999}]`,
		`["e",{"_placeholder":true,"num":"0"},{"_placeholder":true}]`,
		`["e",{"\u005fplaceholder":true,"n\u0075m":3,"\u00e9":1,"\ud83d\ude00":[]}]`,
		`["e",{"_placeholder":false,"num":9,"_placeholder":true,"num":0}]`,
		`["e",{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]`,
		`[ "e" , { "x" : [ { "_placeholder" : true , "num" : 9 } ] } ]`,
	} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		if !jsonobj.Valid(data) || data[jsonobj.SkipSpace(data, 0)] != '[' {
			return // what checkData lets through to it
		}
		err := checkPlaceholders(data, int(n))
		if want := refIllegalPlaceholder(t, data, int(n)); (err != nil) != want {
			t.Fatalf("checkPlaceholders(%q, %d) = %v, reference says illegal=%v", data, n, err, want)
		}
	})
}

// refIllegalPlaceholder decodes data as JSON.parse would (the last of
// duplicate keys wins, numbers are float64) and walks it as the official
// reconstructPacket does.
func refIllegalPlaceholder(t *testing.T, data []byte, n int) bool {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // encoding/json refuses 1e400, which JSON.parse reads as Infinity
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("reference decode of %q: %v", data, err)
	}
	var illegal func(v any) bool
	illegal = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if v["_placeholder"] == true {
				num, ok := v["num"].(json.Number)
				if !ok {
					return true
				}
				f, _ := strconv.ParseFloat(string(num), 64)
				return !(f >= 0 && f < float64(n))
			}
			for _, e := range v {
				if illegal(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if illegal(e) {
					return true
				}
			}
		}
		return false
	}
	return illegal(v)
}

// FuzzSplitEvent: no panic; a split event joins back to the same name and
// arguments.
func FuzzSplitEvent(f *testing.F) {
	for _, c := range loadGolden(f) {
		if i := bytes.IndexByte([]byte(c.Wire), '['); i >= 0 {
			f.Add([]byte(c.Wire[i:]))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		name, args, err := SplitEvent(in)
		// Through a names table, missed then hit, and into a reused
		// array, the split is the same.
		var names Names
		dst := make([][]byte, 0, 1)
		for range 2 {
			var name3 string
			var args3 [][]byte
			var err3 error
			name3, args3, err3 = SplitEventTo(dst, in, &names)
			if (err3 == nil) != (err == nil) || err == nil && (name3 != name || !reflect.DeepEqual(args3, args)) {
				t.Fatalf("SplitEventTo(%q) = %q %q %v; SplitEvent %q %q %v", in, name3, args3, err3, name, args, err)
			}
			dst = args3
		}
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("split invalid JSON %q", in)
		}
		if !utf8.ValidString(name) {
			return // AppendEvent replaces invalid UTF-8
		}
		out := AppendEvent(nil, name, args...)
		name2, args2, err := SplitEvent(out)
		if err != nil || name2 != name || !reflect.DeepEqual(args2, args) {
			t.Fatalf("SplitEvent(%q) = %q %q; AppendEvent = %q; again %q %q %v", in, name, args, out, name2, args2, err)
		}
	})
}

// FuzzAppendString: the quoted form is a JSON string holding the same text.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n\x00\x1f", "é😀\u2028", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, out, err)
		}
		// []rune turns each invalid byte into U+FFFD, as AppendString does.
		if want := string([]rune(s)); back != want {
			t.Fatalf("AppendString(%q) = %s, decodes to %q", s, out, back)
		}
	})
}
