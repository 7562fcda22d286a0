package jsonobj

import (
	"errors"
	"strings"
	"testing"
)

// fields runs ObjectFields for keys and returns the raw values, "<nil>"
// standing for an absent member.
func fields(t *testing.T, in string, keys ...string) ([]string, error) {
	t.Helper()
	fs := make([]Field, len(keys))
	for i, k := range keys {
		fs[i] = Field{Key: k, Raw: []byte("stale")}
	}
	err := ObjectFields([]byte(in), fs)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Raw)
		if f.Raw == nil {
			out[i] = "<nil>"
		}
		if cap(f.Raw) != len(f.Raw) {
			t.Errorf("%s: %s has spare capacity", in, f.Key)
		}
	}
	return out, err
}

func TestObjectFields(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // channel, seq, data
	}{
		{"message", `{"channel":"c","seq":7,"data":{"a":1}}`, []string{`"c"`, `7`, `{"a":1}`}},
		{"absent", `{"channel":"c"}`, []string{`"c"`, `<nil>`, `<nil>`}},
		{"empty", `{}`, []string{`<nil>`, `<nil>`, `<nil>`}},
		{"null stays raw", `{"data":null}`, []string{`<nil>`, `<nil>`, `null`}},
		{"whitespace", " \t\r\n{ \"seq\" :\n 7 , \"data\" : [ 1 , 2 ] }\n ", []string{`<nil>`, `7`, `[ 1 , 2 ]`}},
		{"nested data", `{"data":{"seq":1,"channel":"x","d":[{"data":2}]},"seq":3}`, []string{`<nil>`, `3`, `{"seq":1,"channel":"x","d":[{"data":2}]}`}},
		// Last one wins, as with encoding/json into a struct.
		{"duplicate", `{"seq":1,"seq":2,"data":"a","data":null}`, []string{`<nil>`, `2`, `null`}},
		{"escaped key", `{"ch\u0061nnel":"c","s\u0065q":1,"\u0064ata":2}`, []string{`"c"`, `1`, `2`}},
		{"escaped value kept raw", `{"channel":"a\"b\u00e9"}`, []string{`"a\"b\u00e9"`, `<nil>`, `<nil>`}},
		// Keys match exactly, unlike encoding/json's case folding.
		{"case differs", `{"Channel":"c","SEQ":1}`, []string{`<nil>`, `<nil>`, `<nil>`}},
		{"other keys", `{"x":{"channel":"no"},"y":[],"seq":1}`, []string{`<nil>`, `1`, `<nil>`}},
		{"huge number stays raw", `{"seq":123456789012345678901234567890}`, []string{`<nil>`, `123456789012345678901234567890`, `<nil>`}},
	} {
		got, err := fields(t, tc.in, "channel", "seq", "data")
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: ObjectFields(%s) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestObjectFieldsRejects(t *testing.T) {
	for _, in := range []string{
		``, ` `, `null`, `[]`, `"s"`, `1`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`,
		`{"a":1 "b":2}`, `{a:1}`, `{'a':1}`, `{"a":1}x`, `{"a":1}{}`, `{"a":01}`,
		`{"a":tru}`, `{"a":"\x"}`, `{"a":"` + "\x01" + `"}`, `{"a":"unterminated}`,
		`{"data":{"x":[1,}}`, `{"data":[1 2]}`, `{"channel":"c","seq":1,"data":{bad}}`,
		`{"data":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + `}`,
	} {
		_, err := fields(t, in, "channel", "seq", "data")
		if !errors.Is(err, ErrBadJSON) {
			t.Errorf("ObjectFields(%.40q) = %v, want ErrBadJSON", in, err)
		}
	}
}

func TestObjectFieldsAllocs(t *testing.T) {
	in := []byte(`{"channel":"news","seq":12345,"data":{"text":"hello","n":[1,2,3]}}`)
	allocs := testing.AllocsPerRun(100, func() {
		fs := [...]Field{{Key: "channel"}, {Key: "seq"}, {Key: "data"}}
		if err := ObjectFields(in, fs[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := Uint64(fs[1].Raw); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ObjectFields + Uint64: %v allocs, want 0", allocs)
	}
}

func TestUnquote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`""`, ""},
		{`"plain"`, "plain"},
		{`"é😀"`, "é😀"},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"\u00e9\u20AC"`, "é€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\ufffd"},                     // lone high surrogate
		{`"\ude00x"`, "\ufffdx"},                   // lone low surrogate
		{`"\ud83d\u0041"`, "\ufffdA"},              // the next escape is read on its own
		{`"\ud83d\ud83d\ude00"`, "\ufffd😀"},        // so a pair may follow
		{"\"a\xffb\"", "a\ufffdb"},                 // invalid UTF-8
		{"\"\xed\xa0\x80\"", "\ufffd\ufffd\ufffd"}, // an encoded surrogate is invalid UTF-8
		{`"\u0000"`, "\x00"},
	} {
		got, err := Unquote([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("Unquote(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{``, `"`, `x`, `"a`, `"a"b`, `null`, `1`, `"\q"`, `"\u12"`, "\"\n\""} {
		if _, err := Unquote([]byte(in)); !errors.Is(err, ErrBadJSON) {
			t.Errorf("Unquote(%q) = %v, want ErrBadJSON", in, err)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		in  string
		u   uint64
		uOK bool
		i   int64
		iOK bool
	}{
		{"0", 0, true, 0, true},
		{"7", 7, true, 7, true},
		{"18446744073709551615", 1<<64 - 1, true, 0, false},
		{"18446744073709551616", 0, false, 0, false}, // 2^64: overflow
		{"99999999999999999999", 0, false, 0, false},
		{"9223372036854775807", 1<<63 - 1, true, 1<<63 - 1, true},
		{"9223372036854775808", 1 << 63, true, 0, false},
		{"-9223372036854775808", 0, false, -1 << 63, true},
		{"-9223372036854775809", 0, false, 0, false},
		{"-18446744073709551616", 0, false, 0, false},
		{"-1", 0, false, -1, true},
		{"-25000", 0, false, -25000, true},
		{"-0", 0, false, 0, true},
		{"1.0", 0, false, 0, false},
		{"1e3", 0, false, 0, false},
		{"-1E3", 0, false, 0, false},
		{"01", 0, false, 0, false},
		{"-01", 0, false, 0, false},
		{"", 0, false, 0, false},
		{"-", 0, false, 0, false},
		{"--1", 0, false, 0, false},
		{"+1", 0, false, 0, false},
		{`"1"`, 0, false, 0, false},
		{"null", 0, false, 0, false},
		{" 1", 0, false, 0, false},
		{"1 ", 0, false, 0, false},
	} {
		u, err := Uint64([]byte(tc.in))
		if (err == nil) != tc.uOK || u != tc.u {
			t.Errorf("Uint64(%q) = %d, %v; want %d ok=%v", tc.in, u, err, tc.u, tc.uOK)
		}
		if err != nil && !errors.Is(err, ErrBadJSON) {
			t.Errorf("Uint64(%q): %v is not ErrBadJSON", tc.in, err)
		}
		i, err := Int([]byte(tc.in))
		if (err == nil) != tc.iOK || i != tc.i {
			t.Errorf("Int(%q) = %d, %v; want %d ok=%v", tc.in, i, err, tc.i, tc.iOK)
		}
		if err != nil && !errors.Is(err, ErrBadJSON) {
			t.Errorf("Int(%q): %v is not ErrBadJSON", tc.in, err)
		}
	}
}

func TestBoolNullArray(t *testing.T) {
	if v, err := Bool([]byte("true")); err != nil || !v {
		t.Errorf("Bool(true) = %v, %v", v, err)
	}
	if v, err := Bool([]byte("false")); err != nil || v {
		t.Errorf("Bool(false) = %v, %v", v, err)
	}
	for _, in := range []string{"null", "1", `"true"`, "True", ""} {
		if _, err := Bool([]byte(in)); !errors.Is(err, ErrBadJSON) {
			t.Errorf("Bool(%q) = %v, want ErrBadJSON", in, err)
		}
	}
	if !IsNull([]byte("null")) || IsNull([]byte(" null")) || IsNull(nil) {
		t.Error("IsNull")
	}
	elems, err := SplitArray([]byte(` [ "websocket" , 1, {"a":[2]} ] `))
	if err != nil || len(elems) != 3 || string(elems[0]) != `"websocket"` || string(elems[2]) != `{"a":[2]}` {
		t.Errorf("SplitArray = %q, %v", elems, err)
	}
	if elems, err := SplitArray([]byte(`[]`)); err != nil || len(elems) != 0 {
		t.Errorf("SplitArray([]) = %q, %v", elems, err)
	}
	for _, in := range []string{``, `null`, `{}`, `[`, `[1,]`, `[1] x`, `[1 2]`} {
		if _, err := SplitArray([]byte(in)); !errors.Is(err, ErrBadJSON) {
			t.Errorf("SplitArray(%q) = %v, want ErrBadJSON", in, err)
		}
	}
}
