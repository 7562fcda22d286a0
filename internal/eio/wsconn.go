package eio

import (
	"bufio"
	"net"
	"sync"

	"github.com/baton-rt/baton/internal/wire/engineio"
	"github.com/baton-rt/baton/internal/wsconn"
)

// The hijacked connection (small buffers, a reader that lets an idle
// session wait on a short stack, a writer that frames a batch of messages
// into one write(2)) is internal/wsconn's. The types here adapt it to the
// session: hijackResponse hands it to websocket.Accept, wsLink is what a
// session keeps of it, and gatherWriter writes a batch of outGroups.

// hijackResponse is the http.ResponseWriter handed to websocket.Accept:
// a wsconn.Response whose Hijack also builds the session's wsLink.
type hijackResponse struct {
	wsconn.Response
	link *wsLink // set by Hijack
}

// Hijack takes over the connection through wsconn.Response, with its
// default (small) buffer sizes.
func (h *hijackResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := h.Response.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.link = &wsLink{
		in:   linkReader{h.Link},
		out:  gatherWriter{h.Link.Writer()},
		gate: h.Link.Gate(),
	}
	return conn, brw, nil
}

// wsLink is what a session keeps of its hijacked connection besides the
// websocket.Conn (one small allocation next to wsconn.Link).
type wsLink struct {
	in  linkReader
	out gatherWriter
	// gate orders looks at the read buffer from the session's reader
	// against websocket.Conn.Close, which reads it on another goroutine
	// while it waits for the client's close frame (see
	// Conn.closeWebSocket).
	gate sync.Locker
}

// buffered reports whether coder/websocket's read buffer holds bytes not
// yet read.
func (l *wsLink) buffered() bool { return l.in.link.Buffered() }

// cut closes the socket, ending a close handshake's wait for the
// client's close frame (wsconn.Link.Cut).
func (l *wsLink) cut() { l.in.link.Cut() }

// linkReader is the session reader's view of the connection.
type linkReader struct{ link *wsconn.Link }

// wait blocks until a byte has arrived or the connection failed, on a
// short call chain (see wsconn.Link.Wait).
func (r linkReader) wait() { r.link.Wait() }

// gatherWriter writes the session's messages through the connection's
// wsconn.Writer, a batch at a time.
type gatherWriter struct{ w *wsconn.Writer }

// writeFrames writes groups as WebSocket messages in one write (several
// past the writer's batch limit). scratch is the caller's buffer for
// encoding packets. It fails with net.ErrClosed once a close frame has
// gone out.
func (g *gatherWriter) writeFrames(groups []outGroup, scratch *[]byte) error {
	if err := g.w.Begin(); err != nil {
		return err
	}
	g.add(groups, scratch)
	return g.w.End()
}

// writeFramesNoWait is writeFrames with one write(2) that does not wait
// for the socket (wsconn.Writer.EndNoWait): owed says that a part is left
// for a writer that may wait. Keep such batches under wsconn's gather
// limit.
func (g *gatherWriter) writeFramesNoWait(groups []outGroup, scratch *[]byte) (owed bool, err error) {
	if err := g.w.Begin(); err != nil {
		return false, err
	}
	g.add(groups, scratch)
	return g.w.EndNoWait()
}

// add adds groups to the writer's open batch.
func (g *gatherWriter) add(groups []outGroup, scratch *[]byte) {
	for _, grp := range groups {
		if grp.frame != nil {
			g.w.Text(grp.frame) // copied, or written, when it returns
			grp.release()
		}
		for _, p := range grp.packets {
			if p.Binary {
				g.w.Binary(p.Data)
				continue
			}
			*scratch = engineio.AppendText((*scratch)[:0], p)
			g.w.Text(*scratch)
		}
	}
}
