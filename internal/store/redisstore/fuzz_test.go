package redisstore

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/internal/record"
)

func FuzzDecodeEntry(f *testing.F) {
	good := record.Encode(store.Event{Time: time.Unix(1700000000, 42), Kind: "gate_failed", Data: json.RawMessage(`{"p95_ms":812,"limit_ms":500}`)})
	f.Add("0-1", string(good), "")
	f.Add("0-18446744073709551615", string(good), "")
	f.Add("1700000000000-0", string(good), "")
	f.Add("0-01", string(good), "")
	f.Add("0-7", "junk", "")
	f.Add("0-7", string(good), "x")
	f.Fuzz(func(t *testing.T, id, rec, extra string) {
		values := map[string]any{recordField: rec}
		if extra != "" {
			values[extra] = "v"
		}
		e, err := decodeEntry(id, values)
		if err != nil {
			if !errors.Is(err, errBadEntry) {
				t.Fatalf("error %v does not match errBadEntry", err)
			}
			return
		}
		if e.Seq == 0 || "0-"+itoa(e.Seq) != id {
			t.Fatalf("seq %d from id %q", e.Seq, id)
		}
		if err := store.ValidateEvent(e); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
	})
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
