package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
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
			text, bins := Encode(m)
			if !bytes.Equal(text, Append(nil, m.Packet)) || !reflect.DeepEqual(bins, m.Binary) {
				t.Fatalf("Encode(%+v) = %q %q", m, text, bins)
			}
		}
	})
}

// FuzzValidJSON checks the scanner against encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, c := range loadGolden(f) {
		if i := bytes.IndexAny([]byte(c.Wire), "[{\""); i >= 0 {
			f.Add([]byte(c.Wire[i:]))
		}
	}
	for _, s := range []string{`0`, `-1.5e+3`, `"\u00e9\n"`, `[1,[2,{"a":null}]]`, ` {} `, `tru`, `01`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, want := validJSON(in), json.Valid(in)
		if got != want && !(want && depth(in) > maxDepth) {
			t.Fatalf("validJSON(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// depth is a rough nesting depth (ignores brackets in strings): enough to
// excuse deeply nested input that validJSON rejects on purpose.
func depth(b []byte) int {
	d, m := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			d++
			m = max(m, d)
		case ']', '}':
			d--
		}
	}
	return m
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

// objectSeeds are real objects from the wire: Engine.IO open packets,
// CONNECT answers, pub/sub acks and messages of the reference service.
var objectSeeds = []string{
	`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
	`{"sid":"oSO0OpakMV_3jnilAAAA"}`,
	`{"ok":true}`,
	`{"ok":true,"seq":12}`,
	`{"error":"history_gone: messages after seq 3 are gone"}`,
	`{"error":{"code":"x_y","message":"m"},"ok":null}`,
	`{"channel":"news","seq":18446744073709551615,"data":{"text":"hi","n":[1,2.5e3,null,true]}}`,
	`{"channel":"n\u00e9ws","seq":-1,"data":"x"}`,
	`{"message":"unauthorized","data":{"reason":"x"}}`,
	`{"Channel":"c","seq":1,"channel":"d","seq":null,"n":-9223372036854775808}`,
	` { "seq" : 1e3 , "data" : [ ] } `,
}

// FuzzObjectFields checks ObjectFields and the value readers against
// encoding/json: the same verdict on every object, the same raw values
// (json.RawMessage fields), and the same typed values (pointer fields, so
// that null reads as absent) where the input has no duplicate or
// case-folded alias of a key, the two places where they differ on purpose.
func FuzzObjectFields(f *testing.F) {
	for _, s := range objectSeeds {
		f.Add([]byte(s))
	}
	for _, c := range loadGolden(f) {
		if i := bytes.IndexByte([]byte(c.Wire), '{'); i >= 0 {
			f.Add([]byte(c.Wire[i:]))
		}
	}
	keys := []string{"channel", "seq", "data", "ok", "n"}
	f.Fuzz(func(t *testing.T, in []byte) {
		fs := make([]Field, len(keys))
		for i, k := range keys {
			fs[i].Key = k
		}
		err := ObjectFields(in, fs)

		var raw struct {
			Channel json.RawMessage `json:"channel"`
			Seq     json.RawMessage `json:"seq"`
			Data    json.RawMessage `json:"data"`
			OK      json.RawMessage `json:"ok"`
			N       json.RawMessage `json:"n"`
		}
		stdErr := json.Unmarshal(in, &raw)
		isObject := bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("{"))
		switch {
		case !isObject && err == nil:
			t.Fatalf("ObjectFields accepted non-object %q", in)
		case !isObject:
			return // encoding/json accepts null for a struct; we don't
		case (err == nil) != (stdErr == nil) && !(stdErr == nil && depth(in) > maxDepth):
			t.Fatalf("ObjectFields(%q): %v; encoding/json: %v", in, err, stdErr)
		case err != nil:
			return
		}
		aliased, dup := keyShape(t, in, keys)
		if aliased {
			return
		}
		std := [][]byte{raw.Channel, raw.Seq, raw.Data, raw.OK, raw.N}
		for i, f := range fs {
			if !bytes.Equal(f.Raw, std[i]) || (f.Raw == nil) != (std[i] == nil) {
				t.Fatalf("ObjectFields(%q) %s = %q; encoding/json %q", in, f.Key, f.Raw, std[i])
			}
		}
		if dup {
			return
		}
		var typed struct {
			Channel *string `json:"channel"`
			Seq     *uint64 `json:"seq"`
			OK      *bool   `json:"ok"`
		}
		stdErr = json.Unmarshal(in, &typed)
		ch, errC := readNullable(fs[0].Raw, Unquote)
		seq, errS := readNullable(fs[1].Raw, Uint64)
		ok, errO := readNullable(fs[3].Raw, Bool)
		err = errors.Join(errC, errS, errO)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("typed read of %q: %v; encoding/json: %v", in, err, stdErr)
		}
		if err == nil && (!samePtr(ch, typed.Channel) || !samePtr(seq, typed.Seq) || !samePtr(ok, typed.OK)) {
			t.Fatalf("typed read of %q differs from encoding/json %+v", in, typed)
		}
	})
}

// readNullable reads raw with read, nil for an absent member or null.
func readNullable[T any](raw []byte, read func([]byte) (T, error)) (*T, error) {
	if raw == nil || IsNull(raw) {
		return nil, nil
	}
	v, err := read(raw)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// keyShape lists the top-level keys of the valid object in (via
// encoding/json) and reports whether one is a case-folded alias of a key
// in keys (which encoding/json matches and ObjectFields does not) and
// whether a key in keys occurs more than once.
func keyShape(t *testing.T, in []byte, keys []string) (aliased, dup bool) {
	dec := json.NewDecoder(bytes.NewReader(in))
	if _, err := dec.Token(); err != nil { // '{'
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
		for _, want := range keys {
			switch {
			case k == want:
				dup = dup || seen[k]
				seen[k] = true
			case strings.EqualFold(k, want):
				aliased = true
			}
		}
	}
	return aliased, dup
}
