package edge_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coder/websocket"
)

// Answers come in the order of the requests (docs/protocols/legacy.md),
// also through the gateway, where a publish is answered from the backend
// connection's reader while the client's next requests are handled: a
// ping's pong or a subscribe's ack must not overtake the acks of the
// publishes sent before it.
func TestLegacyAnswersInRequestOrder(t *testing.T) {
	_, url := startEdge(t)
	ctx, c := dialLegacy(t, url)
	for round := range 20 {
		id := uint64(round * 10)
		burst := []string{
			fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p%d","data":1}`, id+1, round),
			fmt.Sprintf(`{"type":"ping","id":%d}`, id+2),
			fmt.Sprintf(`{"type":"publish","id":%d,"channel":"p%d","data":2}`, id+3, round),
			fmt.Sprintf(`{"type":"subscribe","id":%d,"channel":"s%d"}`, id+4, round),
			fmt.Sprintf(`{"type":"ping","id":%d}`, id+5),
		}
		for _, f := range burst {
			if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
				t.Fatal(err)
			}
		}
		var got []uint64
		for len(got) < len(burst) {
			if f := read(ctx, t, c); f.Type != "message" {
				got = append(got, f.ID)
			}
		}
		for i, gid := range got {
			if gid != id+uint64(i)+1 {
				t.Fatalf("round %d: answers to ids %v, want %d..%d in order", round, got, id+1, id+5)
			}
		}
	}
}

// An unsubscribe of a name no channel can have is refused with
// invalid_channel, as the reference service refuses it, rather than acked.
func TestLegacyUnsubscribeOfAnInvalidName(t *testing.T) {
	_, url := startEdge(t)
	ctx, c := dialLegacy(t, url)
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"unsubscribe","id":7,"channel":""}`)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Type string `json:"type"`
		ID   uint64 `json:"id"`
		Code string `json:"code"`
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Type != "error" || got.ID != 7 || got.Code != "invalid_channel" {
		t.Fatalf("answer %s, want error invalid_channel for id 7", b)
	}
}
