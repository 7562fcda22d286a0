package rollout

import (
	"bytes"
	"testing"
	"time"

	"github.com/baton-rt/baton/internal/config"
)

// storedSeeds are state blobs as controllers store them, and a few that a
// corrupt or foreign store could hold.
func storedSeeds(f *testing.F) [][]byte {
	p, err := NewPlan(config.Rollout{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	var out [][]byte
	for _, st := range []State{
		{Phase: Idle, Weight: 2500},
		{ID: "r1", Phase: Shifting, Plan: &p, Step: 2, Weight: p.Weight(2), Applied: true, HoldUntil: now, StartedAt: now,
			Steps: []StepRecord{{Step: 1, Weight: p.Weight(1), StartedAt: now, Outcome: Pass}, {Step: 2, Weight: p.Weight(2), StartedAt: now}}},
		{ID: "r2", Phase: Paused, PausedFrom: Shifting, HoldLeft: Duration(time.Second), Plan: &p, Step: 1, Weight: p.Weight(1)},
		{ID: "r3", Phase: RolledBack, Plan: &p, Step: 3, Reason: "gate failed", Emergency: true, EndedAt: now},
	} {
		b, err := encodeState(st)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"schema":2}`, `{"weight":10001}`, `{"phase":"","weight":20000}`,
		`{"phase":"shifting"}`, `{"phase":"bogus","plan":{"steps":[100]}}`, `{"phase":"shifting","plan":{"steps":[10,100]},"step":3}`,
		`{"phase":"shifting","plan":{"steps":[1000]},"step":1,"weight":100}`, `{"hold_left":"x"}`, `{"plan":{"hold":5}}`,
		`{"phase":"paused","paused_from":"bogus","plan":{"steps":[100]}}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzDecodeState: a stored state blob is read or refused with an error,
// never a panic; what decodeState accepts passes every check it states
// (schema, phase, plan, step, weight), and stores again as it read.
func FuzzDecodeState(f *testing.F) {
	for _, b := range storedSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeState(b)
		if err != nil {
			return
		}
		switch st.Phase {
		case Idle, Preparing, Shifting, Paused, Completed, RollingBack, RolledBack, Aborted:
		default:
			t.Fatalf("decodeState(%q) accepted phase %q", b, st.Phase)
		}
		if st.Schema > stateSchema || !st.Weight.Valid() ||
			(st.Phase != Idle && st.Plan == nil) ||
			(st.Phase == Paused && st.PausedFrom != Preparing && st.PausedFrom != Shifting) ||
			(st.Plan != nil && (st.Step < 0 || st.Step > len(st.Plan.Steps))) {
			t.Fatalf("decodeState(%q) accepted %+v", b, st)
		}
		enc, err := encodeState(st)
		if err != nil {
			t.Fatalf("accepted state %+v does not encode: %v", st, err)
		}
		again, err := decodeState(enc)
		if err != nil {
			t.Fatalf("re-encoded state %s refused: %v", enc, err)
		}
		if enc2, _ := encodeState(again); !bytes.Equal(enc, enc2) {
			t.Fatalf("state does not round-trip:\n%s\n%s", enc, enc2)
		}
	})
}
