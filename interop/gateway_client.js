// The official socket.io-client as a client of Baton's gateway:
//
//   node gateway_client.js --url http://127.0.0.1:PORT --user U --channel C --count N [--transport T]
//
// Connects as user U (?user=U), subscribes to C, prints {"event":"subscribed"},
// then expects the messages with seqs 1..N on C, exactly once and in order,
// without a disconnect, and publishes once itself. The result is the last
// stdout line (see lib.js); exit status 0 when it passed.
"use strict";

const { io } = require("socket.io-client");
const { assert, assertEqual, ack, emitLine, exitAfterFlush, parseArgs, ScenarioError } = require("./lib");

const args = parseArgs(process.argv.slice(2));
const COUNT = Number(args.count || 100);
const WAIT_MS = Number(args.timeout || 30000);

async function run() {
  const opts = { forceNew: true, reconnection: false, timeout: 10000, query: { user: args.user } };
  if (args.transport === "websocket") opts.transports = ["websocket"];
  else if (args.transport === "polling") opts.transports = ["polling"];
  const socket = io(args.url, opts);
  let disconnected = null;
  socket.on("disconnect", (reason) => (disconnected = reason));
  const seqs = [];
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ScenarioError(`timeout: ${seqs.length}/${COUNT} messages`)),
      WAIT_MS,
    );
    socket.on("message", (m) => {
      assertEqual(m.channel, args.channel, "message channel");
      seqs.push(m.seq);
      if (seqs.length === COUNT) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new ScenarioError(`connect_error: ${err.message}`)));
  });
  const [sub] = await ack(socket, "subscribe", { channel: args.channel });
  assertEqual(sub.ok, true, "subscribe ack");
  emitLine({ event: "subscribed" });
  await done;
  assertEqual(seqs, Array.from({ length: COUNT }, (_, i) => i + 1), "seqs");
  const [pub] = await ack(socket, "publish", { channel: args.channel + ".echo", data: { from: "node" } });
  assert(pub.ok === true && typeof pub.seq === "number", `publish ack ${JSON.stringify(pub)}`);
  assert(disconnected === null, `disconnected: ${disconnected}`);
  socket.close();
}

run().then(
  () => {
    emitLine({ scenario: "gateway", ok: true });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "gateway", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
