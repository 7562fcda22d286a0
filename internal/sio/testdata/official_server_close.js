// Connects the official socket.io-client over long-polling only, with
// reconnection on, to a Baton sio server that disconnects it (see
// TestOfficialClientServerCloseBetweenPolls). Usage: node
// official_server_close.js URL. Prints "ok" once the disconnect reason is
// "io server disconnect" and the socket will not reconnect; any failure
// exits non-zero with the reason on stderr. With a second argument
// "upgrade" the client may upgrade to WebSocket (its default transports).
"use strict";

const { io } = require("socket.io-client");

const [url, mode] = process.argv.slice(2);

function fail(msg) {
  console.error(msg);
  process.exit(1);
}
setTimeout(() => fail("timeout"), 15000).unref();

const transports = mode === "upgrade" ? ["polling", "websocket"] : ["polling"];
const socket = io(url, { transports, forceNew: true, reconnection: true });
socket.once("connect_error", (e) => fail(`connect_error: ${e.message}`));
socket.once("disconnect", (reason) => {
  if (reason !== "io server disconnect") fail(`disconnect reason ${JSON.stringify(reason)}, want "io server disconnect"`);
  // active: whether the socket will try to reconnect by itself.
  if (socket.active) fail("the socket will reconnect");
  console.log("ok");
  process.exit(0);
});
