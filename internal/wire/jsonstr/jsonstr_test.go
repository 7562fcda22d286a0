package jsonstr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, js, legacy string }{
		{"", `""`, `""`},
		{"plain", `"plain"`, `"plain"`},
		{"\"\\/", `"\"\\/"`, `"\"\\/"`},
		{"\n\r\t", `"\n\r\t"`, `"\n\r\t"`},
		{"\b\f", `"\b\f"`, `"\u0008\u000c"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f\"", `"\u0000\u001f` + "\x7f\""},
		{"é😀<&\u2028", "\"é😀<&\u2028\"", "\"é😀<&\u2028\""},
		{"a\xffb", "\"a\ufffdb\"", `"a\ufffdb"`},
		{"\ufffd", "\"\ufffd\"", "\"\ufffd\""}, // a real U+FFFD stays literal
	} {
		if got := string(Append(nil, tc.in, JS)); got != tc.js {
			t.Errorf("Append(%q, JS) = %s, want %s", tc.in, got, tc.js)
		}
		if got := string(Append(nil, tc.in, Legacy)); got != tc.legacy {
			t.Errorf("Append(%q, Legacy) = %s, want %s", tc.in, got, tc.legacy)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], "prices/é\n\xff", Legacy) }); n != 0 {
		t.Errorf("Append: %v allocs, want 0", n)
	}
}

func TestUnquote(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		valid    bool
	}{
		{``, "", true},
		{`plain`, "plain", true},
		{`é😀`, "é😀", true},
		{`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t", true},
		{`\u00e9\u20AC`, "é€", true},
		{`\ud83d\ude00`, "😀", true},
		{`\ud83d`, "\ufffd", true},                    // lone high surrogate
		{`\ude00x`, "\ufffdx", true},                  // lone low surrogate
		{`\ud83d\u0041`, "\ufffdA", true},             // the next escape is read on its own
		{`\ud83d\ud83d\ude00`, "\ufffd😀", true},       // so a pair may follow
		{"a\xffb", "a\ufffdb", false},                 // invalid UTF-8
		{"\\n\xff", "\n\ufffd", false},                // with an escape too
		{"\xed\xa0\x80", "\ufffd\ufffd\ufffd", false}, // an encoded surrogate is invalid UTF-8
		{"\ufffd", "\ufffd", true},                    // a real U+FFFD is valid
		{`\u0000`, "\x00", true},
	} {
		got, valid := Unquote([]byte(tc.in))
		if got != tc.want || valid != tc.valid {
			t.Errorf("Unquote(%q) = %q, %v; want %q, %v", tc.in, got, valid, tc.want, tc.valid)
		}
	}
}

// FuzzUnquote checks Unquote against encoding/json on every well-formed
// string literal, and that valid says whether the literal was valid UTF-8.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{
		`""`, `"plain"`, `"é😀"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u20AC"`,
		`"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`, `"\ud83d\u0041"`,
		`"\ud83d\ud83d\ude00"`, "\"a\xffb\"", "\"\xed\xa0\x80\"", `"\u0000"`,
		`"prices/ABC"`, `"history_gone: messages after seq 3 are gone"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' || !json.Valid(lit) {
			return // not exactly one string literal
		}
		var want string
		if err := json.Unmarshal(lit, &want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		got, valid := Unquote(lit[1 : len(lit)-1])
		if got != want {
			t.Fatalf("Unquote(%s) = %q, encoding/json reads %q", lit, got, want)
		}
		if valid != utf8.Valid(lit) {
			t.Fatalf("Unquote(%s): valid = %v", lit, valid)
		}
	})
}

// FuzzAppend: in either style the quoted form is one JSON string literal
// that encoding/json and Unquote both read back as s, each byte of invalid
// UTF-8 turned into U+FFFD.
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\\n\x00\x1f\b\f", "é😀\u2028", "\xff", "prices/ABC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := string([]rune(s)) // []rune turns each invalid byte into U+FFFD
		for _, style := range []Style{JS, Legacy} {
			out := Append(nil, s, style)
			var back string
			if err := json.Unmarshal(out, &back); err != nil || back != want {
				t.Fatalf("Append(%q, %d) = %s: encoding/json reads %q, %v; want %q", s, style, out, back, err, want)
			}
			if got, valid := Unquote(out[1 : len(out)-1]); got != want || !valid {
				t.Fatalf("Append(%q, %d) = %s: Unquote reads %q, %v; want %q", s, style, out, got, valid, want)
			}
		}
	})
}
