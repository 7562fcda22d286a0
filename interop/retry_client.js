// The official socket.io-client, with its default reconnection, meeting a
// gateway that cannot reach a backend when it connects:
//
//   node retry_client.js --url http://127.0.0.1:PORT --user U [--transport T]
//
// Prints {"event":"refused","how":...} when its first attempt fails
// (connect_error or disconnect), then expects to connect by itself within
// 20 s once the backend is back (the Go test brings it back on that
// line), as it would talking to a backend that was down, and a subscribe
// to be acked. The result is the last stdout line (see lib.js); exit
// status 0 when it passed.
"use strict";

const { io } = require("socket.io-client");
const { ack, assertEqual, emitLine, exitAfterFlush, parseArgs } = require("./lib");

const args = parseArgs(process.argv.slice(2));

async function run() {
  // The client's defaults: reconnection on, 1 s delay growing to 5 s.
  const opts = { forceNew: true, timeout: 10000, query: { user: args.user } };
  if (args.transport === "websocket") opts.transports = ["websocket"];
  else if (args.transport === "polling") opts.transports = ["polling"];
  const socket = io(args.url, opts);
  const seen = [];
  let refused = false;
  const onFailure = (what) => (arg) => {
    seen.push(`${what}: ${arg instanceof Error ? arg.message : arg}`);
    if (!refused) {
      refused = true;
      emitLine({ event: "refused", how: seen[0] });
    }
  };
  socket.on("connect_error", onFailure("connect_error"));
  socket.on("disconnect", onFailure("disconnect"));
  const connected = new Promise((resolve) => socket.once("connect", resolve));
  const timer = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`not connected within 20 s; saw ${JSON.stringify(seen)}`)), 20000),
  );
  await Promise.race([connected, timer]);
  const [sub] = await ack(socket, "subscribe", { channel: "retried" });
  assertEqual(sub.ok, true, "subscribe ack");
  socket.close();
}

run().then(
  () => {
    emitLine({ scenario: "retry", ok: true });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "retry", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
