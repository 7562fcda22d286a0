// Test server for internal/sioclient: the official socket.io server
// (pinned in interop/, found through NODE_PATH) with the handlers the Go
// tests exercise. It listens on 127.0.0.1 on a free port, prints
// "PORT <n>" on stdout, and exits when stdin closes (so it never outlives
// the test process).
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const pingInterval = Number(process.env.PING_INTERVAL || 25000);
const pingTimeout = Number(process.env.PING_TIMEOUT || 20000);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval,
  pingTimeout,
  // The default namespace and "/admin" only: anything else is refused with
  // "Invalid namespace".
});

// The reference pub/sub API, in memory: per channel a seq counter and the
// full history.
const channels = new Map();
function channelState(name) {
  let c = channels.get(name);
  if (!c) {
    c = { seq: 0, history: [] };
    channels.set(name, c);
  }
  return c;
}

function validChannel(req) {
  return req && typeof req.channel === "string" && req.channel.length > 0;
}

function onConnection(socket) {
  // Echo: answers the callback with the same arguments, or emits them back
  // when there is no callback.
  socket.on("echo", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (cb) cb(...args);
    else socket.emit("echo", ...args);
  });

  // Binary ack: answers with the size, and the bytes reversed as a Buffer.
  socket.on("binary", (buf, cb) => {
    const b = Buffer.from(buf);
    cb({ size: b.length }, Buffer.from(b).reverse());
  });

  // Sizes of the binary arguments (-1 for non-binary ones).
  socket.on("sizes", (...args) => {
    const cb = args.pop();
    cb(args.map((a) => (Buffer.isBuffer(a) ? a.length : -1)));
  });

  // The server sends a binary event: {"kind":"bin"} and a 3-byte buffer.
  socket.on("send-binary", (cb) => {
    socket.emit("bin", { kind: "bin" }, Buffer.from([1, 2, 3]));
    if (cb) cb();
  });

  // Server-to-client ack: the server asks the client a question and
  // relays the client's answer to the original callback.
  socket.on("ask", (question, cb) => {
    socket.emit("question", question, (...answer) => cb(...answer));
  });

  // Rooms.
  socket.on("join", (room, cb) => {
    socket.join(room);
    cb({ ok: true });
  });
  socket.on("broadcast", (room, msg, cb) => {
    io.of(socket.nsp.name).to(room).emit("broadcast", msg);
    cb({ ok: true });
  });

  // Server-initiated disconnect: close=true also closes the transport.
  socket.on("kick", (close) => {
    setTimeout(() => socket.disconnect(Boolean(close)), 10);
  });

  // Emits n events as fast as possible (overflow test).
  socket.on("flood", (n, cb) => {
    for (let i = 0; i < n; i++) socket.emit("flood", i);
    if (cb) cb();
  });

  // The transport the server sees, for the upgrade test.
  socket.on("transport", (cb) => cb(socket.conn.transport.name));

  // Pub/sub.
  socket.on("subscribe", (req, cb) => {
    if (!validChannel(req)) return cb({ error: "channel required" });
    const c = channelState(req.channel);
    socket.join("ch:" + req.channel);
    cb({ ok: true, seq: c.seq }); // the position, as Baton's reference service acks
    if (typeof req.since === "number") {
      for (const m of c.history) {
        if (m.seq > req.since) socket.emit("message", m);
      }
    }
  });
  socket.on("unsubscribe", (req, cb) => {
    if (!validChannel(req)) return cb({ error: "channel required" });
    socket.leave("ch:" + req.channel);
    cb({ ok: true });
  });
  socket.on("publish", (req, cb) => {
    if (!validChannel(req)) return cb({ error: "channel required" });
    const c = channelState(req.channel);
    const m = { channel: req.channel, seq: ++c.seq, data: req.data };
    c.history.push(m);
    io.to("ch:" + req.channel).emit("message", m);
    cb({ ok: true, seq: m.seq });
  });
}

io.on("connection", onConnection);

// A namespace with an auth check: auth {"token":"secret"} is accepted,
// anything else refused with message "unauthorized" and data.
const admin = io.of("/admin");
admin.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === "secret") return next();
  const err = new Error("unauthorized");
  err.data = { reason: "bad token" };
  next(err);
});
admin.on("connection", (socket) => {
  onConnection(socket);
  socket.on("whoami", (cb) => cb({ nsp: socket.nsp.name, user: socket.handshake.auth.user || null }));
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write("PORT " + httpServer.address().port + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
