// The official socket.io-client meeting a backend that greets each socket
// from its connection handler, through Baton's gateway:
//
//   node welcome_client.js --url http://127.0.0.1:PORT --user U [--count N] [--transport T]
//
// Expects the backend's "welcome" event after "connect" (as a client of
// the backend itself gets it: the server's CONNECT answer comes first), and
// answers its "hello?" question, which asks for an acknowledgement; N
// sockets one after the other, as users U-1..U-N (default 1). The
// result is the last stdout line (see lib.js); exit status 0 when it
// passed.
"use strict";

const { io } = require("socket.io-client");
const { DEFAULT_WAIT_MS, ScenarioError, assert, assertEqual, emitLine, exitAfterFlush, parseArgs, waitEvent } = require("./lib");

const args = parseArgs(process.argv.slice(2));

async function run() {
  const count = Number(args.count || 1);
  for (let i = 1; i <= count; i++) await one(`${args.user}-${i}`);
}

// within rejects when p has not settled within ms, saying what was awaited.
function within(p, what, ms = DEFAULT_WAIT_MS) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new ScenarioError(`timeout after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function one(user) {
  const opts = { forceNew: true, reconnection: false, timeout: 10000, query: { user } };
  if (args.transport === "websocket") opts.transports = ["websocket"];
  else if (args.transport === "polling") opts.transports = ["polling"];
  const socket = io(args.url, opts);
  const order = [];
  socket.on("connect", () => order.push("connect"));
  // What an app sees in its handlers: connected, with its id.
  const welcomed = new Promise((resolve) => {
    socket.once("welcome", (...argv) => {
      order.push("welcome");
      resolve({ argv, connected: socket.connected, id: socket.id });
    });
  });
  const asked = new Promise((resolve) => {
    socket.once("hello?", (...argv) => {
      order.push("hello?");
      const cb = typeof argv[argv.length - 1] === "function" ? argv.pop() : null;
      resolve({ connected: socket.connected, cb });
    });
  });
  let disconnected = null;
  socket.on("disconnect", (reason) => (disconnected = reason));
  await waitEvent(socket, "connect");
  const w = await within(welcomed, `welcome (seen: ${order})`);
  assertEqual(w.argv, ["hi"], "welcome's arguments");
  const q = await within(asked, `hello? (seen: ${order})`);
  assertEqual(order, ["connect", "welcome", "hello?"], "order of connect and the backend's events");
  assert(w.connected && typeof w.id === "string", `welcome handled while not connected (id ${w.id})`);
  assert(q.connected, "hello? handled while not connected");
  assert(q.cb !== null, "hello? came without a callback to answer");
  q.cb("hi back");
  // The backend confirms it got the answer.
  const [ok] = await waitEvent(socket, "answered");
  assertEqual(ok, "hi back", "answer the backend got");
  assert(disconnected === null, `disconnected: ${disconnected}`);
  socket.close();
}

run().then(
  () => {
    emitLine({ scenario: "welcome", ok: true });
    exitAfterFlush(0);
  },
  (err) => {
    emitLine({ scenario: "welcome", ok: false, error: String(err && err.message ? err.message : err) });
    exitAfterFlush(1);
  },
);
