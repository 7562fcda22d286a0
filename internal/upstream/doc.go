// Package upstream connects one gateway session to one backend: the
// drivers for legacy and Socket.IO backends behind one Conn interface, and
// the bridge that carries any edge protocol's operations to either.
//
// A Dialer (LegacyDialer, SocketIODialer, or NewDialer from the config)
// opens a Conn and hands its incoming traffic to a Handler as Events, on
// the connection's own reading goroutine: no channel and no extra
// goroutine per connection sit in between (the gateway holds one Conn per
// session, by the ten thousand). The Socket.IO driver adds one small
// goroutine per connection only to learn when sioclient's session ends.
// Once the reader has handed over what it read, it calls the Handler's
// Flush, so that what the events queued leaves together, from that same
// goroutine; PublishAsync's answers come the same way.
//
// # Mapping
//
// Mapping names the four pub/sub operations on the backend. The defaults
// ("subscribe", "unsubscribe", "publish", "message") fit Baton's reference
// services; config.Backend.Events overrides them per backend. The payloads
// are those of the reference services in both protocols:
//
//	operation          legacy backend (frame "type" = mapped name)         Socket.IO backend (event = mapped name, with ack)
//	subscribe          {"type":T,"id":N,"channel":C[,"since":S]}           {"channel":C[,"since":S]}
//	                   → ack {"seq":P} | error {"code","message"}          → {"ok":true[,"seq":P]} | {"error":"<code>: <message>"}
//	unsubscribe        {"type":T,"id":N,"channel":C} → ack | error         {"channel":C} → {"ok":true} | {"error":...}
//	publish            {"type":T,"id":N,"channel":C,"data":D}              {"channel":C,"data":D} → {"ok":true,"seq":N}
//	                   → ack {"seq":N} | error
//	message (in)       {"type":T,"channel":C,"seq":N,"data":D}             event T, first argument {"channel":C,"seq":N,"data":D}
//
// Refusals become *RemoteError with the backend's code (the legacy codes,
// for example history_gone; a Socket.IO error string "<code>: <message>"
// is split, an object {"code","message"} is read as is). D is raw JSON and
// is never re-encoded in either direction. A message without seq is
// delivered with Seq 0 (unsequenced). A message of any other shape (no
// channel or data, a seq that is no unsigned integer, a Socket.IO message
// event without argument) ends the connection with ErrProtocol in both
// drivers: it is not passed on as a custom event of that name, which a
// legacy client would read as a malformed message frame.
//
// # Everything else passes through
//
// A custom event is a name and arguments, each argument one raw JSON
// value, as in Socket.IO:
//
//	                   legacy backend                                      Socket.IO backend
//	Emit(e, args)      frame built by AppendLegacyFrame (below)            emit e with args
//	Request(e, args)   the same frame with an "id"; the answer is the      emit e with args and an ack; the reply is
//	                   frame carrying that id (an error frame becomes a    the ack's arguments
//	                   *RemoteError); the reply is [that whole frame]
//	incoming           a frame of any other type T (and an error frame     any other event: Event{Name, Args}
//	                   answering no request): Event{Name: T, Args: [the
//	                   whole frame]}
//
// AppendLegacyFrame turns (e, args) into one frame: a single object
// argument keeps its members (in order, values verbatim) after "type":e,
// replacing any "type" or "id" member; no argument gives {"type":e};
// anything else {"type":e,"args":[...]}. So a legacy client's custom frame
// reaches a legacy backend unchanged, and a Socket.IO client's
// emit("e", {...}) becomes the frame {"type":"e",...}.
//
// A legacy backend's error frame with code subscription_lost and a channel
// becomes a KindLost event; the session then subscribes again with since.
//
// Binary attachments come in, and go back in an answer to the backend's
// ask: a Socket.IO backend's event keeps them (Event.Binary), an ack that
// carries them is refused (ErrBadReply), and a client's event never sends
// any. An event the backend asked an acknowledgement for carries
// Event.Answer, which sends the client's ack back to its callback.
package upstream
