// The official Socket.IO server (npm socket.io and engine.io, pinned in
// package.json) configured like Baton's `serve --socketio --protocol-suite`:
// the behaviour our server must match, and the control the interop
// scenarios are checked against.
//
//   node refserver.js [--port 0] [--host 127.0.0.1]
//                     [--ping-interval 300] [--ping-timeout 200]
//                     [--connect-timeout 1000] [--control stdin]
//
// On one port it serves
//   /engine.io/  plain Engine.IO, echoing every message (engine.io-protocol
//                test suite configuration);
//   /socket.io/  Socket.IO with the socket.io-protocol test suite handlers
//                ("auth", "message" -> "message-back", "message-with-ack")
//                on "/" and "/custom", plus the reference pub/sub API
//                (subscribe, unsubscribe, publish -> message) on "/",
//                with the same error codes ("<code>: <detail>") as Baton's.
//
// It prints {"listening":PORT} once ready and runs until killed. With
// --control stdin it takes commands on stdin, one JSON object per line, and
// exits when stdin closes: {"cmd":"disconnect","id":SOCKET_ID} makes the
// server disconnect that socket of "/" (a server-initiated disconnect).
"use strict";

const http = require("node:http");
const readline = require("node:readline");
const { Server } = require("socket.io");
const engine = require("engine.io");
const { parseArgs } = require("./lib");

const HISTORY_LIMIT = 1000;

const args = parseArgs(process.argv.slice(2));
const port = Number(args.port || 0);
const host = args.host || "127.0.0.1";

// The suites' timing (heartbeat 300 ms / 200 ms, connect timeout 1 s)
// unless told otherwise: a loaded machine can stall a client longer than
// that, so the interop tests relax it.
const suiteOptions = {
  pingInterval: Number(args["ping-interval"] || 300),
  pingTimeout: Number(args["ping-timeout"] || 200),
  maxPayload: 1000000,
  cors: { origin: "*" },
};

const httpServer = http.createServer();

const eio = new engine.Server(suiteOptions);
eio.attach(httpServer, { path: "/engine.io/" });
eio.on("connection", (socket) => {
  socket.on("data", (...data) => socket.send(...data));
});

const io = new Server(httpServer, { ...suiteOptions, connectTimeout: Number(args["connect-timeout"] || 1000) });

// channels: name -> {seq, history: [message], subs: Set<socket>}
const channels = new Map();

function channel(name) {
  let c = channels.get(name);
  if (!c) {
    c = { seq: 0, history: [], subs: new Set() };
    channels.set(name, c);
  }
  return c;
}

function validChannel(req) {
  return req && typeof req.channel === "string" && req.channel !== "";
}

function reply(cb, value) {
  if (typeof cb === "function") cb(value);
}

function attachPubSub(socket) {
  const mine = new Set();

  // The ack (with the channel position) comes first, then the replay after
  // since, then live messages.
  socket.on("subscribe", (req, cb) => {
    if (!validChannel(req)) return reply(cb, { error: "invalid_channel: missing channel" });
    if (mine.has(req.channel)) return reply(cb, { error: "already_subscribed: already subscribed" });
    const c = channel(req.channel);
    let replay = [];
    if (req.since !== undefined) {
      if (!Number.isInteger(req.since) || req.since < 0) return reply(cb, { error: "bad_since: not a seq" });
      if (req.since > c.seq) return reply(cb, { error: "bad_since: ahead of the channel" });
      replay = c.history.filter((m) => m.seq > req.since);
    }
    mine.add(req.channel);
    c.subs.add(socket);
    reply(cb, { ok: true, seq: c.seq });
    for (const m of replay) socket.emit("message", m);
  });

  socket.on("unsubscribe", (req, cb) => {
    if (!validChannel(req)) return reply(cb, { error: "invalid_channel: missing channel" });
    if (!mine.delete(req.channel)) return reply(cb, { error: "not_subscribed: not subscribed" });
    channel(req.channel).subs.delete(socket);
    reply(cb, { ok: true });
  });

  socket.on("publish", (req, cb) => {
    if (!validChannel(req)) return reply(cb, { error: "invalid_channel: missing channel" });
    const c = channel(req.channel);
    const m = { channel: req.channel, seq: ++c.seq, data: req.data === undefined ? null : req.data };
    c.history.push(m);
    if (c.history.length > HISTORY_LIMIT) c.history.shift();
    for (const s of c.subs) s.emit("message", m);
    reply(cb, { ok: true, seq: m.seq });
  });

  socket.on("disconnect", () => {
    for (const name of mine) channel(name).subs.delete(socket);
  });
}

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...a) => socket.emit("message-back", ...a));
  socket.on("message-with-ack", (...a) => {
    const cb = a.pop();
    cb(...a);
  });
  attachPubSub(socket);
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

if (args.control === "stdin") {
  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      return;
    }
    if (cmd.cmd === "disconnect") {
      const s = io.of("/").sockets.get(cmd.id);
      if (s) s.disconnect();
    }
  });
  // The controlling test ends us by closing stdin (or killing us).
  process.stdin.on("end", () => process.exit(0));
}

httpServer.listen(port, host, () => {
  process.stdout.write(JSON.stringify({ listening: httpServer.address().port }) + "\n");
});
