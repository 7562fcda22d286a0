package wsconn

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawFrame is a server frame (unmasked) with the fin bit as given.
func rawFrame(fin bool, op byte, payload string) []byte {
	b := AppendFrameHeader(nil, op, len(payload))
	if !fin {
		b[0] &^= 0x80
	}
	return append(b, payload...)
}

// TestClientBorrow reads every shape of message with Borrow: whole small
// ones in place, and in buffers of their own one over the read buffer and
// one in fragments, with a ping between the fragments.
func TestClientBorrow(t *testing.T) {
	big := string(bytes.Repeat([]byte("b"), DefaultClientReadSize+100))
	stream := bytes.Join([][]byte{
		rawFrame(true, opText, "small"),
		rawFrame(true, opBinary, big),
		rawFrame(false, opText, "frag"),
		rawFrame(true, opPing, "p"),
		rawFrame(true, opContinuation, "ment"),
		rawFrame(true, opText, ""),
		rawFrame(true, opText, "last"),
	}, nil)
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		if _, err := l.Writer().Write(stream); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, _ = ws.Read(ctx) // answers the client's close, ends with it
	})
	c := dialTest(t, "ws://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	want := []struct {
		typ  websocket.MessageType
		data string
		lent bool
	}{
		{websocket.MessageText, "small", true},
		{websocket.MessageBinary, big, false},
		{websocket.MessageText, "fragment", false},
		{websocket.MessageText, "", true},
		{websocket.MessageText, "last", true},
	}
	var small []byte
	for i, w := range want {
		typ, data, err := c.Borrow(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if typ != w.typ || string(data) != w.data {
			t.Fatalf("message %d: %v %.20q (%d bytes), want %v %.20q", i, typ, data, len(data), w.typ, w.data)
		}
		if data == nil {
			t.Fatalf("message %d: nil, want empty", i)
		}
		if w.lent && cap(data) != len(data) {
			t.Errorf("message %d: cap %d past its %d bytes: an append would write into the read buffer", i, cap(data), len(data))
		}
		if i == 0 {
			small = data
		}
	}
	// "small" was lent: the buffer it lay in has been read into since.
	if string(small) == "small" {
		t.Error(`the first message still reads "small" after later reads: it was copied, not lent`)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}

// TestClientBorrowAllocatesNothing: reading small messages in place costs
// no allocation, where Read costs one per message.
func TestClientBorrowAllocatesNothing(t *testing.T) {
	const runs = 200
	frame := rawFrame(true, opText, `{"type":"message","channel":"c","seq":1,"data":1}`)
	stream := bytes.Repeat(frame, 2*(runs+1))
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		if _, err := l.Writer().Write(stream); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, _ = ws.Read(ctx)
	})
	c := dialTest(t, "ws://"+addr)
	ctx := context.Background()
	read := func(borrow bool) {
		var err error
		if borrow {
			_, _, err = c.Borrow(ctx)
		} else {
			_, _, err = c.Read(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// AllocsPerRun divides whole allocations by the runs: a stray one of
	// the runtime's still reads 0, one per message reads 1.
	if n := testing.AllocsPerRun(runs, func() { read(true) }); n != 0 {
		t.Errorf("Borrow: %v allocations per message, want 0", n)
	}
	if n := testing.AllocsPerRun(runs, func() { read(false) }); n < 1 {
		t.Errorf("Read: %v allocations per message; the check above would not see one", n)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
}
