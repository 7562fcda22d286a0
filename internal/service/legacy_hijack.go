package service

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
)

// coder/websocket keeps the bufio.ReadWriter that Hijack returns for the
// life of the connection; net/http's are 4 KiB each. smallBuffers hands it
// smaller ones: legacy frames are small, and larger ones bypass the
// buffers.
const (
	legacyReadBuffer  = 256
	legacyWriteBuffer = 1024
)

var errNoHijack = errors.New("service: ResponseWriter cannot be hijacked")

// smallBuffers is the http.ResponseWriter handed to websocket.Accept.
type smallBuffers struct {
	http.ResponseWriter
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Hijack takes over the connection with small buffers around it.
func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the client sent right after its handshake must stay in the
	// new reader's buffer: coder/websocket takes them from there.
	n := brw.Reader.Buffered()
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(bytes.NewReader(bytes.Clone(early)), max(legacyReadBuffer, n))
	if n > 0 {
		_, _ = br.Peek(n)
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, legacyWriteBuffer)), nil
}
