package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/edge"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
	"github.com/baton-rt/baton/internal/wire/legacy"
)

// A legacy client's custom frame whose type is one of Socket.IO's
// reserved event names is refused with bad_request (with the frame's id
// when it has one), counted in the edge's error_replies, as the official
// Socket.IO client refuses to emit them. Sent on, the event is a protocol
// violation to a Socket.IO backend (socket.io-parser refuses it), which
// ended the session's backend connection.
func TestE2ELegacyClientSendsSocketIOReservedName(t *testing.T) {
	e := setup(t, router.Full) // green: the Socket.IO reference service
	f := startFront(t, e, edge.Options{})
	ctx := testenv.Context(t, 20*time.Second)
	r := f.dialRaw(t, ctx, "reserved")
	r.write(ctx, websocket.MessageText, `{"type":"subscribe","id":1,"channel":"c"}`)
	if a := r.read(ctx); a.Type != legacy.TypeAck || a.ID != 1 {
		t.Fatalf("got %+v, want the subscribe's ack", a)
	}
	id := uint64(10)
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		r.write(ctx, websocket.MessageText, fmt.Sprintf(`{"type":%q,"id":%d,"x":1}`, name, id))
		r.expectError(ctx, id, legacy.CodeBadRequest)
		r.write(ctx, websocket.MessageText, fmt.Sprintf(`{"type":%q}`, name))
		r.expectError(ctx, 0, legacy.CodeBadRequest)
		id++
	}
	r.ping(ctx, 2)
	if st := e.g.Status(); st.Moves.Drops != 0 {
		t.Errorf("the session's backend connection dropped: %+v", st.Moves)
	}
	if got := f.edge.Stats().ErrorReplies; got != 12 {
		t.Errorf("error_replies = %d, want 12", got)
	}
}
