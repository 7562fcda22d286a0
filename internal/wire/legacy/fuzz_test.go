package legacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, agrees with encoding/json on
// what is well-formed JSON, and that every frame it accepts survives
// Append → Decode unchanged.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"type":"subscribe","channel":"C","id":1}`,
		`{"type":"subscribe","channel":"C","id":1,"since":41}`,
		`{"type":"unsubscribe","channel":"C","id":2}`,
		`{"type":"publish","channel":"C","data":{"k":[1,"two",null]},"id":3}`,
		`{"type":"ping","id":4}`,
		`{"type":"welcome","session":"S"}`,
		`{"type":"ack","id":1}`,
		`{"type":"ack","id":3,"seq":17}`,
		`{"type":"message","channel":"C","seq":9,"data":"x"}`,
		`{"type":"pong","id":4}`,
		`{"type":"error","id":5,"code":"bad_request","message":"missing field \"channel\""}`,
		`{"type":"cursor","id":6,"x":1}`,
		`{"type":"subscribe","channel":"\ud83d\ude00\u00e9","id":1}`,
		`{"type":"ping","id":1,"id":1}`,
		`{"type":"publish","channel":"C","data":[[[[{}]]]],"id":3}`,
		`not json`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	if ins, _ := filepath.Glob("testdata/golden/*.in"); len(ins) > 0 {
		for _, in := range ins {
			if b, err := os.ReadFile(in); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b)
		var d Decoder
		for range 2 { // a miss of its channel names, then a hit
			if got, gerr := d.Decode(b); !reflect.DeepEqual(got, fr) || fmt.Sprint(gerr) != fmt.Sprint(err) {
				t.Fatalf("Decoder.Decode(%q) = %+v, %v; Decode gives %+v, %v", b, got, gerr, fr, err)
			}
		}
		var se *SyntaxError
		switch {
		case errors.As(err, &se):
			// Valid JSON may still be refused: the top level must be an
			// object, and data is nested at most maxDepth deep.
			if se.Msg != "nested too deep" && isObject(b) && json.Valid(b) {
				t.Fatalf("Decode says malformed (%v) but encoding/json accepts %q", err, b)
			}
			return
		case err != nil:
			if !errors.Is(err, ErrMissingField) && !errors.Is(err, ErrBadField) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			if !json.Valid(b) {
				t.Fatalf("Decode gave a field error (%v) for invalid JSON %q", err, b)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("Decode accepted invalid JSON %q", b)
		}
		out := Append(nil, fr)
		if !json.Valid(out) {
			t.Fatalf("Append produced invalid JSON %q from %q", out, b)
		}
		if !Known(fr.Type) {
			if string(out) != string(b) {
				t.Fatalf("opaque frame not kept verbatim: %q -> %q", b, out)
			}
			return
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %q (from %q): %v", out, b, err)
		}
		fr.Raw, back.Raw = nil, nil
		if !reflect.DeepEqual(fr, back) {
			t.Fatalf("round trip changed the frame:\n in %q -> %+v\nout %q -> %+v", b, fr, out, back)
		}
	})
}

func isObject(b []byte) bool {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	_, ok := v.(map[string]any)
	return ok
}
