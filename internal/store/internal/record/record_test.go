package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
)

func TestRoundTrip(t *testing.T) {
	cases := []store.Event{
		{Time: time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC), Kind: "verdict", Data: json.RawMessage(`{ "pass": true, "p": 0.031 }`)},
		{Time: time.Unix(0, 0).UTC(), Kind: "k"},
		{Time: time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), Kind: string(bytes.Repeat([]byte("x"), store.MaxKindLen)), Data: json.RawMessage(`null`)},
	}
	for _, want := range cases {
		got, err := Decode(7, Encode(want))
		if err != nil {
			t.Fatalf("%+v: %v", want, err)
		}
		want.Seq = 7
		if !got.Time.Equal(want.Time) || got.Kind != want.Kind || !bytes.Equal(got.Data, want.Data) || got.Seq != 7 {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good := Encode(store.Event{Time: time.Unix(1, 0), Kind: "ab", Data: json.RawMessage(`[1]`)})
	bad := map[string][]byte{
		"empty":        nil,
		"short header": good[:5],
		"version":      append([]byte{2}, good[1:]...),
		"kind zero":    append(append([]byte{}, good[:9]...), 0),
		"kind past end": func() []byte {
			b := append([]byte{}, good[:headerSize]...)
			b[9] = 5
			return append(b, 'a')
		}(),
		"bad json": append(append([]byte{}, good[:headerSize+2]...), '{'),
	}
	for name, b := range bad {
		if _, err := Decode(1, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(store.Event{Time: time.Unix(1700000000, 5), Kind: "step_passed", Data: json.RawMessage(`{"step":2,"weight":25}`)}))
	f.Add(Encode(store.Event{Time: time.Unix(0, 0), Kind: "verdict", Data: json.RawMessage(`{"z":-1.96,"ci":[0.001,0.02]}`)}))
	f.Add(Encode(store.Event{Time: time.Unix(-5, 0), Kind: "x"}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(3, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes is a valid event and encodes back to the input.
		if err := store.ValidateEvent(e); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		if again := Encode(e); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, again)
		}
	})
}
