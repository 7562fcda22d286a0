package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/memstore"
)

// A controller keeps the version it last read and writes against it, so a
// gateway that lost the lead finds out instead of overwriting the new
// leader's state.
func Example() {
	ctx := context.Background()
	s, _ := memstore.New(memstore.Options{})
	defer s.Close()

	v, _ := s.CompareAndSetState(ctx, 0, []byte(`{"phase":"shifting","step":1}`))

	// Another gateway takes over and moves on.
	_, _ = s.CompareAndSetState(ctx, v, []byte(`{"phase":"shifting","step":2}`))

	// The first one's write, based on the old version, is refused.
	_, err := s.CompareAndSetState(ctx, v, []byte(`{"phase":"completed"}`))
	fmt.Println(errors.Is(err, store.ErrConflict), err)

	seq, _ := s.AppendEvent(ctx, store.Event{Kind: "verdict", Data: json.RawMessage(`{"result":"pass","p":0.41}`)})
	evs, _ := s.ListEvents(ctx, 0, 10)
	fmt.Println(seq, evs[0].Kind, string(evs[0].Data))
	// Output:
	// true store: version conflict: expected 1, found 2
	// 1 verdict {"result":"pass","p":0.41}
}
