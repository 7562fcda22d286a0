package testenv

import (
	"bytes"
	"encoding/json"
	"strings"
)

// PlainJSONKeys reports whether encoding/json, the reference of the fuzz
// tests of our flat-object readers, must agree with them on in: false when
// in is a valid object where one of keys occurs twice or under a
// case-folded alias (encoding/json matches keys case-insensitively and
// keeps the last duplicate; our readers match exactly), the documented
// differences.
func PlainJSONKeys(in []byte, keys ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(in))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return true
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		k, _ := tok.(string)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return true
		}
		for _, want := range keys {
			switch {
			case k == want && seen[k]:
				return false
			case k == want:
				seen[k] = true
			case strings.EqualFold(k, want):
				return false
			}
		}
	}
	return true
}
