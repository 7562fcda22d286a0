package legacy

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.out from the current code")

// TestGolden decodes each testdata/golden/NAME.in (one frame, taken
// byte-for-byte) and compares a description of the result, plus the frame
// re-encoded, with NAME.out.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/golden/*.in")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs (%v)", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := describe(b)
			out := strings.TrimSuffix(in, ".in") + ".out"
			if *update {
				if err := os.WriteFile(out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\n--- got\n%s--- want\n%s", name, got, want)
			}
		})
	}
}

func describe(b []byte) string {
	f, err := Decode(b)
	if err != nil {
		kind := "malformed"
		switch {
		case errors.Is(err, ErrMissingField):
			kind = "missing field"
		case errors.Is(err, ErrBadField):
			kind = "bad field"
		}
		return fmt.Sprintf("error (%s): %v\n", kind, err)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "type: %q\n", f.Type)
	if f.ID != 0 {
		fmt.Fprintf(&s, "id: %d\n", f.ID)
	}
	if f.Channel != "" {
		fmt.Fprintf(&s, "channel: %q\n", f.Channel)
	}
	if f.HasSeq {
		fmt.Fprintf(&s, "seq: %d\n", f.Seq)
	}
	if f.HasSince {
		fmt.Fprintf(&s, "since: %d\n", f.Since)
	}
	if f.Data != nil {
		fmt.Fprintf(&s, "data: %s\n", f.Data)
	}
	for _, kv := range [][2]string{{"session", f.Session}, {"code", f.Code}, {"message", f.Message}} {
		if kv[1] != "" {
			fmt.Fprintf(&s, "%s: %q\n", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&s, "encoded: %s\n", Append(nil, f))
	return s.String()
}
