package rollout

import (
	"context"
	"errors"
	"testing"

	"github.com/baton-rt/baton/internal/store"
)

// A stored state that no controller writes is refused at startup with an
// error, not taken as is: a weight beyond 100 % is not applied to the
// gateway, and a phase no command knows does not leave every command
// refused, nor does a pause that Resume would end in such a phase.
func TestCorruptStoredStateIsRefused(t *testing.T) {
	for _, blob := range []string{
		`{"schema":1,"weight":20000}`,
		`{"schema":1,"phase":"","weight":10001}`,
		`{"schema":1,"phase":"bogus","plan":{"steps":[100],"hold":"1s"}}`,
		`{"schema":1,"phase":"paused","paused_from":"bogus","plan":{"steps":[100],"hold":"1s"}}`,
	} {
		h := newHarness(t)
		if err := h.c.Close(); err != nil {
			t.Fatal(err)
		}
		st := h.store.(store.Store)
		cur, err := st.GetState(context.Background())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := st.CompareAndSetState(context.Background(), cur.Version, []byte(blob)); err != nil {
			t.Fatal(err)
		}
		c, err := New(context.Background(), h.opts)
		if err == nil {
			_ = c.Close()
			t.Errorf("stored %s: New accepted it (shifter asked for %v)", blob, h.shifter.Calls())
		}
	}
}
