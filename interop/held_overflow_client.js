// The official socket.io-client subscribing, through Baton's gateway, to a
// channel whose backend sends more history before the subscribe's ack
// than the client's outbound queue holds:
//
//   node held_overflow_client.js --url http://127.0.0.1:PORT --user U --channel C
//
// Connects as user U on WebSocket without reconnection, subscribes to C
// with since 0, and records every `message` seq, every ack of the
// subscribe and the reason of the disconnect that ends the run. The result
// is the last stdout line (see lib.js), with those in details; the Go
// test judges them. ok is false only when the run did not get that far
// (no connect, no disconnect within the wait).
"use strict";

const { io } = require("socket.io-client");
const { emitLine, exitAfterFlush, parseArgs, waitEvent } = require("./lib");

const args = parseArgs(process.argv.slice(2));

async function run() {
  const socket = io(args.url, {
    forceNew: true, reconnection: false, timeout: 10000, transports: ["websocket"], query: { user: args.user },
  });
  await waitEvent(socket, "connect");
  const seqs = [];
  const acks = [];
  socket.on("message", (m) => seqs.push(m && m.seq));
  const disconnected = waitEvent(socket, "disconnect", 20000);
  socket.emit("subscribe", { channel: args.channel, since: 0 }, (reply) => acks.push(reply));
  const [reason] = await disconnected;
  return { seqs, acks, reason };
}

run().then(
  (details) => {
    emitLine({ scenario: "held-overflow", ok: true, details });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "held-overflow", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
