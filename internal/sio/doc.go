// Package sio is a Socket.IO v5 server on top of package eio: namespaces,
// the CONNECT handshake with an auth payload, events and acknowledgements in
// both directions, binary attachments, rooms and broadcasts. Its wire
// behaviour follows the official Node server (socket.io 4.8).
//
// Payloads stay raw: event arguments are handed to handlers as the exact
// JSON bytes the client sent, and arguments given to Emit are spliced into
// the packet as they are. Binary attachments pass through unchanged, with
// their placeholders left in the arguments; a packet with a placeholder
// that stands for none of its attachments closes the connection, as the
// official server closes it.
//
// Concurrency: the handlers of one connection (middlewares, OnConnect, event
// handlers, OnDisconnect) run one at a time on the connection's reader, in
// the order the client's packets arrived; they must not block for long, and
// must not wait for an acknowledgement from the same connection (run
// EmitWithAck on another goroutine). The one exception: Socket.Disconnect
// and Socket.Close run OnDisconnect on the calling goroutine.
//
// Lock order: client.mu, then Namespace.mu, then Socket.mu.
package sio
