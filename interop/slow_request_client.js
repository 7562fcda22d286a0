// The official socket.io-client waiting on a request that its backend is
// slow to answer, through Baton's gateway:
//
//   node slow_request_client.js --url http://127.0.0.1:PORT --user U [--transport T]
//
// Emits "never" with an acknowledgement (the backend has no handler for
// it, so only the gateway's request timeout answers it) and waits for the
// answer, an {"error":...}, for up to 30 s. Meanwhile the client must stay
// connected: the Engine.IO heartbeat from the handshake is honoured (a
// client that hears no ping for pingInterval + pingTimeout closes with
// "ping timeout" and reconnects). Then "echo", which the backend acks
// with its arguments, must still work.
// The result is the last stdout line (see lib.js); exit status 0 when it
// passed.
"use strict";

const { io } = require("socket.io-client");
const { ScenarioError, assert, assertEqual, emitLine, exitAfterFlush, parseArgs, waitEvent } = require("./lib");

const args = parseArgs(process.argv.slice(2));

async function run() {
  const opts = { forceNew: true, reconnection: false, timeout: 10000, query: { user: args.user } };
  if (args.transport === "websocket") opts.transports = ["websocket"];
  else if (args.transport === "polling") opts.transports = ["polling"];
  const socket = io(args.url, opts);
  let disconnected = null;
  socket.on("disconnect", (reason) => (disconnected = reason));
  await waitEvent(socket, "connect");
  const started = Date.now();
  const [answer] = await new Promise((resolve, reject) => {
    socket.timeout(30000).emit("never", { n: 1 }, (err, ...reply) => {
      if (err) reject(new ScenarioError(`no answer to "never" after ${Date.now() - started} ms; disconnected: ${disconnected}`));
      else resolve(reply);
    });
  });
  assert(disconnected === null, `disconnected (${disconnected}) while waiting ${Date.now() - started} ms for the answer`);
  assert(answer && typeof answer.error === "string", `answer to "never": ${JSON.stringify(answer)}`);
  const echo = await new Promise((resolve, reject) => {
    socket.timeout(10000).emit("echo", 1, "two", (err, ...reply) => (err ? reject(err) : resolve(reply)));
  });
  assertEqual(echo, [1, "two"], "echo after the slow request");
  assert(disconnected === null, `disconnected: ${disconnected}`);
  socket.close();
}

run().then(
  () => {
    emitLine({ scenario: "slow-request", ok: true });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "slow-request", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
