// Package sioclient is a Socket.IO v5 client over Engine.IO v4, built on
// internal/wsconn's small WebSocket client (coder/websocket when a custom
// HTTP client is given) and the codecs of internal/wire. Tests, the load
// generator and the gateway's upstream driver use it, so it is made to be
// held by the thousand: an idle websocket client costs one goroutine parked
// on a short stack, a timer and small buffers.
//
// A Client is one Engine.IO session (the official client's Manager): Dial
// performs the handshake on a websocket (default), on long-polling with an
// upgrade to websocket (the official client's default), or on long-polling
// only. It answers the server's pings and ends the session when no ping
// arrives within pingInterval+pingTimeout. It never reconnects.
//
// A Socket is one namespace joined with Connect and an optional auth
// payload. Events go out with Emit / EmitWithAck (arguments are raw JSON,
// never re-encoded; binary attachments through Payload), or with
// EmitWithAckFunc, whose ack reaches a callback on the reading goroutine
// instead of a waiting caller, and come in through
// Options.OnEvent or the bounded Socket.Events channel. What OnEvent gets
// is lent (read in place, valid until it returns: nothing is allocated for
// it), and Options.OnDrained marks the end of what one read brought, for a
// relay to write out together. Socket also speaks
// the reference pub/sub API (Subscribe, Unsubscribe, Publish, "message"
// events as Message).
//
// Endings are errors, not callbacks: Done is closed and Err says why
// (ErrClosed, ErrServerDisconnect, ErrTransportClosed, ErrHeartbeatTimeout,
// ErrSlowConsumer, ErrProtocol).
//
// Concurrency: every method is safe for concurrent use. One goroutine reads
// (and runs OnEvent); writes are serialized by a lock that callers wait for
// under their context, and each write is bounded by Options.WriteTimeout.
package sioclient
