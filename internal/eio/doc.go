// Package eio is an Engine.IO v4 server: the transport layer under
// Socket.IO. It speaks both transports the official Node server speaks —
// WebSocket and HTTP long-polling, with the upgrade from polling to
// WebSocket — and behaves like engine.io 6.6 (socket.io 4.8) on the wire:
// the same handshake, heartbeat, error responses and close rules, so that
// the official npm client cannot tell the difference.
//
// A Server is an http.Handler mounted at the Engine.IO path (for example
// "/socket.io/"). Every accepted session is a Conn, independent of the
// transport it happens to use; the layer above (package sio) sees only
// Conns through the Handler interface.
//
// Concurrency: each WebSocket session has one reader goroutine and,
// while something is queued, one writer goroutine that drains the whole
// outbound queue at once. A caller that sends with SendHeld (or its frame
// variants) and then calls Flush writes the queue itself instead, with a
// write(2) that does not wait, and leaves only what the socket refuses to
// the writer; the reader flushes what its Handler held once it has
// handled what it read. A polling session has no goroutine of its own: a
// GET takes every queued packet in one payload, a POST delivers its
// packets inline. Handler calls for one Conn never overlap.
//
// Lock order: Server.mu before Conn.mu; Conn.recvMu before Conn.mu. Handler
// callbacks run under Conn.recvMu only.
package eio
