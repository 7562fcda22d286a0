'use strict';
// The benchmark peer: the official Node socket.io 4.8.1 server running the
// same pub/sub API as Baton's reference Socket.IO service, so that
// `baton bench` drives both with one workload.
//
//   node --expose-gc bench/node/server.js 127.0.0.1:PORT
//
// API (main namespace):
//   emit "subscribe" {"channel":C} with ack     -> {"ok":true}   (joins room C)
//   emit "unsubscribe" {"channel":C} with ack   -> {"ok":true}
//   emit "publish" {"channel":C,"data":D} w/ack -> {"ok":true,"seq":N}
//   server emits "message" {"channel":C,"seq":N,"data":D} to room C
//   HTTP POST /api/v1/publish {"channel":C,"data":D} -> {"seq":N}
//   HTTP GET|POST /debug/gc -> runs a full GC when node has --expose-gc
//
// Server options are socket.io's defaults: the benchmark compares against
// what a team gets out of the box.
const path = require('path');
const http = require('http');
const { Server } = require(path.join(__dirname, '../../interop/node_modules/socket.io'));

const MAX_BODY = 1 << 20;

const listen = process.argv[2] || '127.0.0.1:0';
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon) || '127.0.0.1';
const port = Number(listen.slice(colon + 1));

// Per-channel sequence numbers, like the broker behind Baton's services.
const seqs = new Map();

function publish(channel, data) {
  const seq = (seqs.get(channel) || 0) + 1;
  seqs.set(channel, seq);
  io.to(channel).emit('message', { channel, seq, data });
  return seq;
}

function validChannel(msg) {
  return msg !== null && typeof msg === 'object' && typeof msg.channel === 'string' && msg.channel !== '';
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function handlePublish(req, res) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      reply(res, 413, { error: 'body too large' });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      reply(res, 400, { error: 'invalid JSON' });
      return;
    }
    if (!validChannel(msg)) {
      reply(res, 400, { error: 'channel must be a non-empty string' });
      return;
    }
    reply(res, 200, { seq: publish(msg.channel, msg.data === undefined ? null : msg.data) });
  });
}

const httpServer = http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (url === '/api/v1/publish' && req.method === 'POST') {
    handlePublish(req, res);
    return;
  }
  if (url === '/debug/gc') {
    if (typeof global.gc !== 'function') {
      reply(res, 501, { error: 'start node with --expose-gc' });
      return;
    }
    global.gc();
    reply(res, 200, { ok: true });
    return;
  }
  // socket.io handles its own path; anything else is not ours.
  if (!url.startsWith('/socket.io/')) reply(res, 404, { error: 'not found' });
});

const io = new Server(httpServer);

io.on('connection', (socket) => {
  const ack = (fn, body) => { if (typeof fn === 'function') fn(body); };
  socket.on('subscribe', (msg, fn) => {
    if (!validChannel(msg)) return ack(fn, { ok: false, error: 'channel must be a non-empty string' });
    socket.join(msg.channel);
    ack(fn, { ok: true });
  });
  socket.on('unsubscribe', (msg, fn) => {
    if (!validChannel(msg)) return ack(fn, { ok: false, error: 'channel must be a non-empty string' });
    socket.leave(msg.channel);
    ack(fn, { ok: true });
  });
  socket.on('publish', (msg, fn) => {
    if (!validChannel(msg)) return ack(fn, { ok: false, error: 'channel must be a non-empty string' });
    ack(fn, { ok: true, seq: publish(msg.channel, msg.data === undefined ? null : msg.data) });
  });
});

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  console.log(`listening ${a.address}:${a.port}`);
});

function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
