package redisstore

import (
	"encoding/json"
	"errors"
	"strconv"
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

// FuzzParseCASReply feeds the state script's replies of every shape: {0|1,
// "<version>"} is read as is; anything else is an error, never a panic.
func FuzzParseCASReply(f *testing.F) {
	f.Add(int64(1), "7", uint8(0))
	f.Add(int64(0), "3", uint8(0))
	f.Add(int64(2), "3", uint8(0))
	f.Add(int64(1), "-1", uint8(0))
	f.Add(int64(1), "18446744073709551616", uint8(0))
	f.Add(int64(1), "7", uint8(1))
	f.Add(int64(1), "7", uint8(2))
	f.Fuzz(func(t *testing.T, flag int64, version string, shape uint8) {
		reply := []any{flag, version}
		switch shape % 4 {
		case 1:
			reply = reply[:1]
		case 2:
			reply[0] = version // a string flag
		case 3:
			reply = append(reply, "x")
		}
		ok, v, err := parseCASReply(reply)
		want, perr := strconv.ParseUint(version, 10, 64)
		wellFormed := shape%4 == 0 && (flag == 0 || flag == 1) && perr == nil
		switch {
		case err != nil && wellFormed:
			t.Fatalf("reply %v refused: %v", reply, err)
		case err != nil:
			return
		case !wellFormed || ok != (flag == 1) || v != want:
			t.Fatalf("reply %v read as %v %d", reply, ok, v)
		}
	})
}
