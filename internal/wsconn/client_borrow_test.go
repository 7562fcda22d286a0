package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/baton-rt/baton/internal/testenv"
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

// TestClientWaitAllocatesNothing: a reader that parks between messages
// (Wait, then Borrow) allocates nothing per wake: the read buffer and the
// wait's callback come from pools. Without the race detector only: it
// drops pooled items on purpose.
func TestClientWaitAllocatesNothing(t *testing.T) {
	if testenv.Race {
		t.Skip("sync.Pool drops items under the race detector")
	}
	const runs = 200
	frame := rawFrame(true, opText, `{"type":"message","channel":"c","seq":1,"data":1}`)
	next := make(chan bool)
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		for more := range next {
			if !more {
				return
			}
			if _, err := l.Writer().Write(frame); err != nil {
				t.Error(err)
				return
			}
		}
	})
	c := dialTest(t, "ws://"+addr)
	ctx := context.Background()
	wake := func() {
		next <- true
		c.Wait()
		if _, _, err := c.Borrow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(runs, wake); n != 0 {
		t.Errorf("%v allocations per wake, want 0", n)
	}
	next <- false
	_ = c.CloseNow()
}

// TestClientWaitHandlesLoneControlFrames: a pong and a ping that come
// alone are handled within Wait (the pong counted, the ping answered),
// which then waits on for a message, so a heartbeat leaves an idle reader
// parked. The server sends its message only once it has the answer to
// its ping: a Wait that returned on the control frames would leave the
// pong uncounted and the ping unanswered.
func TestClientWaitHandlesLoneControlFrames(t *testing.T) {
	addr := serve(t, func(ws *websocket.Conn, l *Link) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, _, err := ws.Read(ctx); err != nil { // the client is ready
			t.Error(err)
			return
		}
		ctx = ws.CloseRead(ctx)
		if _, err := l.Writer().Write(rawFrame(true, opPong, "x")); err != nil {
			t.Error(err)
			return
		}
		if err := ws.Ping(ctx); err != nil { // answered by the client's Wait
			t.Error(err)
			return
		}
		if _, err := l.Writer().Write(rawFrame(true, opText, "after")); err != nil {
			t.Error(err)
		}
		<-ctx.Done()
	})
	c := dialTest(t, "ws://"+addr)
	if err := c.Write(context.Background(), websocket.MessageText, []byte("ready")); err != nil {
		t.Fatal(err)
	}
	if c.Buffered() {
		t.Fatal("buffered before the server sent anything")
	}
	c.Wait()
	if n := c.Pongs(); n != 1 {
		t.Fatalf("Wait returned with %d pongs counted, want 1", n)
	}
	if got := readText(t, c); got != "after" {
		t.Fatalf("after the control frames: %q", got)
	}
	_ = c.CloseNow()
}

// streamConn is a net.Conn that reads a fixed stream and takes every
// write (pongs, close frames) without a peer.
type streamConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (s *streamConn) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s *streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (s *streamConn) Close() error                     { return nil }
func (s *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }
func (s *streamConn) SetDeadline(time.Time) error      { return nil }
func (s *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// streamClient is a Client reading stream, with a small read limit.
func streamClient(stream []byte) *Client {
	c := &Client{in: parkConn{Conn: &streamConn{r: bytes.NewReader(stream)}}, limit: 4 << 10,
		wsem: make(chan struct{}, 1), writeTimeout: time.Second} // as NewClient makes them: pongs and close answers go out
	c.br = bufio.NewReaderSize(&c.in, DefaultClientReadSize)
	return c
}

// FuzzBorrow: for any stream from the server, Borrow returns the same
// messages and the same end as Read.
func FuzzBorrow(f *testing.F) {
	f.Add(bytes.Join([][]byte{
		rawFrame(true, opText, "small"),
		rawFrame(false, opText, "frag"),
		rawFrame(true, opPing, "p"),
		rawFrame(true, opContinuation, "ment"),
		rawFrame(true, opBinary, string(bytes.Repeat([]byte("b"), 600))),
		rawFrame(true, opText, ""),
		rawFrame(true, opClose, "\x03\xe8"),
	}, nil))
	f.Add([]byte{0x81, 0x05, 'a'})
	f.Add([]byte{0x81, 0x7e, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, stream []byte) {
		type msg struct {
			typ  websocket.MessageType
			data string
		}
		read := func(borrow bool) ([]msg, string) {
			c := streamClient(stream)
			var out []msg
			for range 1000 {
				var typ websocket.MessageType
				var data []byte
				var err error
				if borrow {
					typ, data, err = c.Borrow(context.Background())
				} else {
					typ, data, err = c.Read(context.Background())
				}
				if err != nil {
					return out, err.Error()
				}
				out = append(out, msg{typ, string(data)}) // a copy: the next read may reuse data
			}
			return out, "still reading"
		}
		got, gotEnd := read(true)
		want, wantEnd := read(false)
		if gotEnd != wantEnd || len(got) != len(want) {
			t.Fatalf("Borrow: %d messages, then %q; Read: %d, then %q", len(got), gotEnd, len(want), wantEnd)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("message %d: Borrow %v %q, Read %v %q", i, got[i].typ, got[i].data, want[i].typ, want[i].data)
			}
		}
	})
}
