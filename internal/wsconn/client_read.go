package wsconn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// More opcodes (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opPing         = 0x9
	opPong         = 0xa
)

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin    bool
	op     byte
	masked bool
	length uint64
}

// parseFrameHeader reads a frame header from r, without the masking key,
// which a server's frames must not have. It checks what RFC 6455 fixes
// for a connection without extensions.
func parseFrameHeader(r io.ByteReader) (frameHeader, error) {
	b0, err := r.ReadByte()
	if err != nil {
		return frameHeader{}, err
	}
	b1, err := r.ReadByte()
	if err != nil {
		return frameHeader{}, unexpected(err)
	}
	h := frameHeader{fin: b0&0x80 != 0, op: b0 & 0x0f, masked: b1&0x80 != 0, length: uint64(b1 & 0x7f)}
	if b0&0x70 != 0 {
		return h, fmt.Errorf("%w: reserved bits set", ErrProtocol)
	}
	if h.masked {
		return h, fmt.Errorf("%w: masked frame from the server", ErrProtocol)
	}
	var ext int
	switch h.length {
	case 126:
		ext = 2
	case 127:
		ext = 8
	}
	if ext > 0 {
		var n [8]byte
		for i := range ext {
			if n[i], err = r.ReadByte(); err != nil {
				return h, unexpected(err)
			}
		}
		if ext == 2 {
			h.length = uint64(binary.BigEndian.Uint16(n[:2]))
		} else {
			h.length = binary.BigEndian.Uint64(n[:])
			if h.length>>63 != 0 {
				return h, fmt.Errorf("%w: frame length out of range", ErrProtocol)
			}
		}
	}
	switch {
	case h.op >= 0x8 && h.op != opClose && h.op != opPing && h.op != opPong,
		h.op > opBinary && h.op < 0x8:
		return h, fmt.Errorf("%w: unknown opcode %#x", ErrProtocol, h.op)
	case h.op >= 0x8 && (!h.fin || h.length > 125):
		return h, fmt.Errorf("%w: bad control frame", ErrProtocol)
	}
	return h, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Read returns the next message. It answers pings, counts pongs (Pongs)
// and skips them, and on the peer's close frame answers it (unless Close
// sent one) and returns a websocket.CloseError (see
// websocket.CloseStatus). A protocol error or an oversized message is
// answered with a close frame (1002, 1009) and returned. A ctx that can
// end bounds the read (its failure ends the connection); with
// context.Background the read costs no timer and ends with the
// connection (Close, CloseNow). Only one goroutine may read.
func (c *Client) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	return c.readCtx(ctx, false)
}

// Borrow is Read without the copy, for a reader that is done with each
// message before it reads the next: a message that fits the read buffer
// whole is returned in place, valid only until the next Read, Borrow,
// Buffered or Wait; a larger or fragmented one comes in a buffer of its
// own. A relay reading one small frame after another then allocates
// nothing for them.
func (c *Client) Borrow(ctx context.Context) (websocket.MessageType, []byte, error) {
	return c.readCtx(ctx, true)
}

func (c *Client) readCtx(ctx context.Context, borrow bool) (websocket.MessageType, []byte, error) {
	if ctx.Done() != nil {
		if dl, ok := ctx.Deadline(); ok {
			_ = c.in.SetReadDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = c.in.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if stop() {
				_ = c.in.SetReadDeadline(time.Time{})
			}
		}()
	}
	typ, msg, err := c.read(borrow)
	if err != nil && ctx.Done() != nil {
		cerr := ctx.Err()
		if _, ok := ctx.Deadline(); ok && cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			cerr = context.DeadlineExceeded // the socket's deadline passed first
		}
		if cerr != nil {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
	}
	return typ, msg, err
}

func (c *Client) read(borrow bool) (websocket.MessageType, []byte, error) {
	var (
		br   = c.reader()
		typ  websocket.MessageType
		msg  []byte
		open bool // a fragmented message is under way
	)
	for {
		h, err := parseFrameHeader(br)
		if err == nil && h.length > uint64(c.limit)-uint64(len(msg)) && h.op < 0x8 {
			err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, c.limit)
		}
		if err != nil {
			return 0, nil, c.failRead(err)
		}
		if h.op >= 0x8 {
			if err := c.control(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		switch {
		case h.op == opContinuation && !open:
			return 0, nil, c.failRead(fmt.Errorf("%w: continuation without a message", ErrProtocol))
		case h.op != opContinuation && open:
			return 0, nil, c.failRead(fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol))
		case h.op == opText:
			typ, open = websocket.MessageText, true
		case h.op == opBinary:
			typ, open = websocket.MessageBinary, true
		}
		if borrow && h.fin && msg == nil && h.length <= uint64(br.Size()) {
			msg, err := c.lend(int(h.length)) // the message is this frame
			return typ, msg, err
		}
		n := len(msg)
		msg = slices.Grow(msg, int(h.length))[:n+int(h.length)]
		if _, err := io.ReadFull(br, msg[n:]); err != nil {
			return 0, nil, c.failRead(unexpected(err))
		}
		if h.fin {
			if msg == nil {
				msg = []byte{}
			}
			return typ, msg, nil
		}
	}
}

// lend returns the next n bytes in place (see Borrow); n is at most the
// read buffer's size.
func (c *Client) lend(n int) ([]byte, error) {
	br := c.reader()
	p, err := br.Peek(n)
	if err != nil {
		return nil, c.failRead(unexpected(err))
	}
	_, _ = br.Discard(n)
	return p[:n:n], nil
}

// control handles a ping, pong or close frame.
func (c *Client) control(h frameHeader) error {
	var buf [125]byte
	p := buf[:h.length]
	if _, err := io.ReadFull(c.reader(), p); err != nil {
		return c.failRead(unexpected(err))
	}
	switch h.op {
	case opPing:
		// Answered with a bounded write; a failed one (or a writer stuck
		// for its whole timeout ahead of it) closes the connection, and
		// the next read fails.
		ctx, cancel := context.WithTimeout(context.Background(), c.writeTimeout)
		defer cancel()
		if c.lockWrite(ctx) != nil {
			_ = c.CloseNow()
			return nil
		}
		defer c.unlockWrite()
		if c.closeSent {
			return nil
		}
		_ = c.writeFrameLocked(context.Background(), opPong, p)
		return nil
	case opPong:
		c.pongs.Add(1)
		return nil
	}
	ce, err := parseClose(p)
	if err != nil {
		return c.failRead(err)
	}
	code := ce.Code
	if code == websocket.StatusNoStatusRcvd {
		code = websocket.StatusNormalClosure
	}
	_ = c.sendClose(code, "") // the answer, unless Close sent ours
	_ = c.CloseNow()
	return ce
}

// parseClose reads a close frame's payload.
func parseClose(p []byte) (websocket.CloseError, error) {
	switch {
	case len(p) == 0:
		return websocket.CloseError{Code: websocket.StatusNoStatusRcvd}, nil
	case len(p) == 1:
		return websocket.CloseError{}, fmt.Errorf("%w: 1-byte close payload", ErrProtocol)
	case !utf8.Valid(p[2:]):
		return websocket.CloseError{}, fmt.Errorf("%w: close reason is not UTF-8", ErrProtocol)
	}
	return websocket.CloseError{Code: websocket.StatusCode(binary.BigEndian.Uint16(p)), Reason: string(p[2:])}, nil
}

// failRead ends the connection after a failed read, telling the peer why
// when the failure is its fault.
func (c *Client) failRead(err error) error {
	switch {
	case errors.Is(err, ErrProtocol):
		_ = c.sendClose(websocket.StatusProtocolError, "")
	case errors.Is(err, ErrTooLarge):
		_ = c.sendClose(websocket.StatusMessageTooBig, "")
	}
	_ = c.CloseNow()
	return err
}
