package jsonobj

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidJSONAgreesWithStdlib(t *testing.T) {
	for _, in := range []string{
		`0`, `-0`, `1.5e3`, `"a"`, `[]`, `{}`, `{"a":[1,{"b":null}]}`, ` true `, `false`, `null`,
		``, ` `, `01`, `+1`, `.5`, `1.`, `[1,]`, `{"a"}`, `nul`, `"\u00"`, `"` + "\x7f" + `"`, "\"\t\"", `[1 2]`, `{"a":1 "b":2}`,
	} {
		if got, want := Valid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid = %v", in, got, want)
		}
	}
}

func TestValidWithin(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat(`[{"a":`, n/2) + strings.Repeat("[", n%2) + "1" + strings.Repeat("]", n%2) + strings.Repeat("}]", n/2))
	}
	for _, tc := range []struct {
		depth, limit int
		want         bool
	}{
		{0, 0, true}, {1, 0, false}, {3, 3, true}, {4, 3, false},
		{500, 500, true}, {501, 500, false}, {MaxDepth, MaxDepth + 5, true}, {MaxDepth + 1, MaxDepth + 5, false},
	} {
		if got := ValidWithin(nest(tc.depth), tc.limit); got != tc.want {
			t.Errorf("ValidWithin(depth %d, limit %d) = %v, want %v", tc.depth, tc.limit, got, tc.want)
		}
	}
	if ValidWithin([]byte(`[1,`), 10) {
		t.Error("ValidWithin accepted malformed JSON")
	}
}
