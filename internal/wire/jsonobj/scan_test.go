package jsonobj

import (
	"encoding/json"
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
