package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// payloadSeeds are the JSON payloads of socketio's golden packets (made by
// the official socket.io-parser), well formed or not.
var payloadSeeds = []string{
	`{"token":"abc"}`,
	`{"sid":"oSO0OpakMV_3jnilAAAA"}`,
	`{"token":"t","pid":"x","offset":"1-0"}`,
	`["hello",1,"two",{"three":3},[4],null,true]`,
	`[42,"x"]`,
	`["msg","héllo \u001e \"q\" \\ \n\t </script>   😀"]`,
	`["ok",{"n":1}]`,
	`[]`,
	`{"message":"Not authorized","data":{"code":401}}`,
	`["up",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}],"name":"f.bin"}]`,
	`[ "a" , 1 ]`,
	`["a"] `,
	`"nope"`,
	`{"a":1}`,
	`["a",]`,
	`["a"`,
	`["a"]x`,
	`["a"]["b"]`,
	`["\x"]`,
	"[\"a\x01\"]",
}

// FuzzValidJSON checks the scanner against encoding/json.
func FuzzValidJSON(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`0`, `-1.5e+3`, `"\u00e9\n"`, `[1,[2,{"a":null}]]`, ` {} `, `tru`, `01`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, want := Valid(in), json.Valid(in)
		if got != want && !(want && depth(in) > MaxDepth) {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// depth is a rough nesting depth (ignores brackets in strings): enough to
// excuse deeply nested input that Valid rejects on purpose.
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
	for _, s := range payloadSeeds {
		if strings.HasPrefix(s, "{") {
			f.Add([]byte(s))
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
		case (err == nil) != (stdErr == nil) && !(stdErr == nil && depth(in) > MaxDepth):
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
			N       *int64  `json:"n"`
		}
		stdErr = json.Unmarshal(in, &typed)
		ch, errC := readNullable(fs[0].Raw, Unquote)
		seq, errS := readNullable(fs[1].Raw, Uint64)
		ok, errO := readNullable(fs[3].Raw, Bool)
		n, errN := readNullable(fs[4].Raw, Int)
		err = errors.Join(errC, errS, errO, errN)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("typed read of %q: %v; encoding/json: %v", in, err, stdErr)
		}
		if err == nil && (!samePtr(ch, typed.Channel) || !samePtr(seq, typed.Seq) || !samePtr(ok, typed.OK) || !samePtr(n, typed.N)) {
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

// FuzzSplitArray checks SplitArray against encoding/json: the same verdict
// on every input (but for nesting past MaxDepth, refused on purpose), and
// the same raw elements, each with its capacity cut to its length.
func FuzzSplitArray(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{` [ "websocket" , 1, {"a":[2]} ] `, `[]`, `[ ]`, `[,]`, `[1,]`, `[1 2]`, `[[]`, `{}`, ``, `[1]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		elems, err := SplitArray(in)
		var std []json.RawMessage
		stdErr := json.Unmarshal(in, &std)
		isArray := bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("["))
		switch {
		case err != nil && !errors.Is(err, ErrBadJSON):
			t.Fatalf("SplitArray(%q): %v, want ErrBadJSON", in, err)
		case !isArray && err == nil:
			t.Fatalf("SplitArray accepted non-array %q", in)
		case !isArray:
			return // encoding/json accepts null for a slice; we don't
		case (err == nil) != (stdErr == nil) && !(stdErr == nil && depth(in) > MaxDepth):
			t.Fatalf("SplitArray(%q): %v; encoding/json: %v", in, err, stdErr)
		case err != nil:
			return
		}
		if len(elems) != len(std) {
			t.Fatalf("SplitArray(%q) = %q; encoding/json %q", in, elems, std)
		}
		for i := range elems {
			if !bytes.Equal(elems[i], std[i]) || cap(elems[i]) != len(elems[i]) {
				t.Fatalf("SplitArray(%q)[%d] = %q (cap %d); encoding/json %q", in, i, elems[i], cap(elems[i]), std[i])
			}
		}
	})
}
