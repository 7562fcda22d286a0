// Drives a Baton sio echo server (see interop_test.go) with the official
// socket.io-client. Usage: node official_client.js URL TRANSPORT
// TRANSPORT is websocket, polling or upgrade. Prints "ok" on success; any
// failure exits non-zero with the reason on stderr.
"use strict";

const { io } = require("socket.io-client");

const [url, transport] = process.argv.slice(2);
const transports =
  transport === "websocket" ? ["websocket"] : transport === "polling" ? ["polling"] : ["polling", "websocket"];

function fail(msg) {
  console.error(msg);
  process.exit(1);
}
setTimeout(() => fail("timeout"), 15000).unref();

function same(a, b, what) {
  const ja = JSON.stringify(a, (k, v) => (v && v.type === "Buffer" ? Array.from(v.data) : v));
  const jb = JSON.stringify(b, (k, v) => (v && v.type === "Buffer" ? Array.from(v.data) : v));
  if (ja !== jb) fail(`${what}: got ${ja}, want ${jb}`);
}

async function main() {
  const socket = io(url, { transports, forceNew: true, reconnection: false, auth: { token: "t1" } });
  const auth = await new Promise((resolve, reject) => {
    socket.once("auth", resolve);
    socket.once("connect_error", reject);
  });
  same(auth, { token: "t1" }, "auth");

  if (transport === "upgrade") {
    await new Promise((resolve) => {
      if (socket.io.engine.transport.name === "websocket") return resolve();
      socket.io.engine.once("upgrade", resolve);
    });
  }

  // Plain event echoed back.
  const back = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
  socket.emit("message", 1, "2", { 3: [true] }, "é✓");
  same(await back, [1, "2", { 3: [true] }, "é✓"], "message-back");

  // Binary attachments echoed back.
  const binBack = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
  socket.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]) });
  const got = await binBack;
  same(got, [Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]) }], "binary message-back");

  // Ack with arguments, then binary ack.
  const ackArgs = await socket.timeout(5000).emitWithAck("message-with-ack", "a", { b: 2 });
  same(ackArgs, "a", "ack");
  const binAck = await new Promise((resolve) =>
    socket.emit("message-with-ack", Buffer.from([9]), (...args) => resolve(args)),
  );
  same(binAck, [Buffer.from([9])], "binary ack");

  // Server-emitted event with an ack requested.
  socket.on("question", (q, cb) => cb(`answer to ${q}`));
  const confirm = new Promise((resolve) => socket.once("confirmed", resolve));
  socket.emit("ask-me");
  same(await confirm, "answer to life", "server ack");

  // Custom namespace on the same connection.
  const custom = io(url.replace(/\/?$/, "") + "/custom", { transports, reconnection: false });
  const customAuth = await new Promise((resolve) => custom.once("auth", resolve));
  same(customAuth, {}, "custom auth");

  // Unknown namespace is refused.
  const bad = io(url.replace(/\/?$/, "") + "/nope", { transports, forceNew: true, reconnection: false });
  const err = await new Promise((resolve) => bad.once("connect_error", resolve));
  same(err.message, "Invalid namespace", "invalid namespace");
  bad.close();

  // Server-side disconnect.
  const reason = new Promise((resolve) => socket.once("disconnect", resolve));
  socket.emit("kick-me");
  same(await reason, "io server disconnect", "disconnect reason");
  custom.close();
  console.log("ok");
  process.exit(0);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
