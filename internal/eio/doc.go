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
// Concurrency: each WebSocket session has one reader (the HTTP handler
// goroutine) and one writer goroutine that drains the whole outbound queue
// at once. A polling session has no goroutine of its own: a GET takes every
// queued packet in one payload, a POST delivers its packets inline. Handler
// calls for one Conn never overlap.
//
// Lock order: Server.mu before Conn.mu; Conn.recvMu before Conn.mu. Handler
// callbacks run under Conn.recvMu only.
package eio
