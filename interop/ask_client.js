// The official socket.io-client answering a backend's question through
// Baton's gateway:
//
//   node ask_client.js --url http://127.0.0.1:PORT --user U
//
// Connects as user U, emits "ask-me", and answers the "question" the
// backend then emits with a callback: ("because", <Buffer 07>). It checks
// the question's own arguments ("why?", <Buffer 04 02>) and that it was
// asked for an answer at all. The result is the last stdout line (see
// lib.js); exit status 0 when it passed.
"use strict";

const { io } = require("socket.io-client");
const { assert, assertEqual, emitLine, exitAfterFlush, parseArgs, waitEvent } = require("./lib");

const args = parseArgs(process.argv.slice(2));

async function run() {
  const socket = io(args.url, {
    forceNew: true, reconnection: false, timeout: 10000, transports: ["websocket"], query: { user: args.user },
  });
  await waitEvent(socket, "connect");
  const asked = new Promise((resolve) => {
    socket.once("question", (...argv) => {
      const cb = typeof argv[argv.length - 1] === "function" ? argv.pop() : null;
      resolve({ argv, cb });
    });
  });
  socket.emit("ask-me");
  const { argv, cb } = await asked;
  assertEqual(argv[0], "why?", "question's first argument");
  assert(Buffer.isBuffer(argv[1]) && argv[1].equals(Buffer.from([4, 2])), `question's attachment ${argv[1]}`);
  assert(cb !== null, "the question came without a callback to answer");
  cb("because", Buffer.from([7]));
  // Let the answer leave before closing.
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.close();
}

run().then(
  () => {
    emitLine({ scenario: "ask", ok: true });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "ask", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
