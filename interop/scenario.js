// One interop scenario, run by the official socket.io-client against a
// server under test (Baton's, or refserver.js as the control).
//
//   node scenario.js --url http://127.0.0.1:PORT --name NAME [--transport T]
//
// T is websocket, polling or upgrade (polling then websocket, the client's
// default); scenarios that don't say otherwise use it for every socket.
// Prints the result as the last stdout line (see lib.js). Exit status is 0
// when the scenario passed, 1 when it failed.
"use strict";

const { io, Manager } = require("socket.io-client");
const {
  ScenarioError,
  assert,
  assertEqual,
  waitEvent,
  collect,
  ack,
  emitLine,
  exitAfterFlush,
  commands,
  parseArgs,
} = require("./lib");

const args = parseArgs(process.argv.slice(2));
const URL = args.url;
const TRANSPORT = args.transport || "upgrade";
const RUN_TIMEOUT_MS = Number(args.timeout || 30000);

// A channel name unique to this run, so seqs start at 1 even when several
// runs share a server or broker.
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;

const sockets = [];

function options(transport = TRANSPORT, extra = {}) {
  const o = { forceNew: true, reconnection: false, timeout: 10000, ...extra };
  if (transport === "websocket") o.transports = ["websocket"];
  else if (transport === "polling") o.transports = ["polling"];
  else o.transports = ["polling", "websocket"];
  return o;
}

// connect opens a socket and waits for its "connect"; listeners for events
// the server sends right at connection are attached before it can arrive.
async function connect(path = "/", opts = options(), early = []) {
  const s = io(URL + path, opts);
  sockets.push(s);
  s.on("disconnect", (reason) => (s.lastDisconnect = reason));
  const out = { socket: s };
  // The manager opens the engine at once; note the transport it opened
  // with and whether it upgraded, before either can be missed.
  s.io.once("open", () => (out.firstTransport = transportName(s)));
  out.upgraded = waitEvent(s.io.engine, "upgrade");
  out.upgraded.catch(() => {});
  const buffered = early.map((ev) => [ev, waitEvent(s, ev)]);
  await waitEvent(s, "connect");
  for (const [ev, p] of buffered) out[ev] = await p;
  return out;
}

function transportName(s) {
  return s.io.engine.transport.name;
}

// exchange checks an ack round trip and a burst of events echoed in order,
// using the protocol-suite handlers ("message-with-ack", "message").
async function exchange(s, burst = 10) {
  const payload = [1, "2", { 3: [true] }, "héllo ✓ 🎉", null];
  assertEqual(await ack(s, "message-with-ack", ...payload), payload, "message-with-ack reply");
  const backs = collect(s, "message-back", burst);
  for (let i = 0; i < burst; i++) s.emit("message", i, `n${i}`);
  const got = await backs;
  assertEqual(
    got,
    Array.from({ length: burst }, (_, i) => [i, `n${i}`]),
    "message-back burst (order and content)",
  );
}

const scenarios = {
  // Connects with the chosen transport, checks the "auth" event and echoes.
  async transport() {
    const { socket: s, auth, firstTransport, upgraded } = await connect("/", options(), ["auth"]);
    assertEqual(auth, [{}], "auth event on /");
    if (TRANSPORT === "upgrade") {
      assertEqual(firstTransport, "polling", "first transport");
      const [t] = await upgraded;
      assertEqual(t.name, "websocket", "upgraded transport");
    }
    await exchange(s);
    const want = TRANSPORT === "polling" ? "polling" : "websocket";
    assertEqual(transportName(s), want, "transport after exchange");
    return { transport: transportName(s), sid: s.io.engine.id };
  },

  // Many acks in flight at once must each come back to their own callback.
  async acks() {
    const { socket: s } = await connect();
    const n = 20;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => ack(s, "message-with-ack", i, { i })),
    );
    assertEqual(
      replies,
      Array.from({ length: n }, (_, i) => [i, { i }]),
      "concurrent acks",
    );
    return { acks: n };
  },

  // Binary attachments in an event and in an ack, both directions.
  async binary() {
    const { socket: s } = await connect();
    const a = Buffer.from([1, 2, 3]);
    const b = Buffer.from([0, 255, 0x1e, 10, 13]);
    const empty = Buffer.alloc(0);
    const reply = await ack(s, "message-with-ack", a, { nested: b, list: [empty, "x"] });
    assert(reply.length === 2, `ack arity ${reply.length}`);
    assert(Buffer.isBuffer(reply[0]), "ack arg 0 is binary");
    assertEqual(Buffer.compare(reply[0], a), 0, "ack arg 0 bytes");
    assert(Buffer.isBuffer(reply[1].nested), "ack nested arg is binary");
    assertEqual(Buffer.compare(reply[1].nested, b), 0, "ack nested bytes");
    assert(Buffer.isBuffer(reply[1].list[0]) && reply[1].list[0].length === 0, "empty buffer");
    assertEqual(reply[1].list[1], "x", "ack string beside binary");

    const back = waitEvent(s, "message-back");
    s.emit("message", "bin", b);
    const got = await back;
    assertEqual(got[0], "bin", "message-back arg 0");
    assert(Buffer.isBuffer(got[1]) && Buffer.compare(got[1], b) === 0, "message-back binary arg");
    return { transport: transportName(s) };
  },

  // "/" and "/custom" multiplexed on one Engine.IO connection, each with
  // its own auth payload echoed back by the server.
  async namespace() {
    const manager = new Manager(URL, options());
    const main = manager.socket("/", { auth: { token: "main" } });
    const custom = manager.socket("/custom", { auth: { token: "abc", n: 1 } });
    sockets.push(main, custom);
    const [mainAuth, customAuth] = await Promise.all([
      waitEvent(main, "auth"),
      waitEvent(custom, "auth"),
    ]);
    assertEqual(mainAuth, [{ token: "main" }], "auth on /");
    assertEqual(customAuth, [{ token: "abc", n: 1 }], "auth on /custom");
    assert(main.connected && custom.connected, "both namespaces connected");
    assert(main.id !== custom.id, "distinct socket ids per namespace");
    await exchange(main, 3);
    return { main: main.id, custom: custom.id, engine: manager.engine.id };
  },

  // An unknown namespace is refused with CONNECT_ERROR "Invalid namespace";
  // the main namespace on the same connection keeps working.
  async "invalid-namespace"() {
    const manager = new Manager(URL, options());
    const main = manager.socket("/");
    const bad = manager.socket("/random");
    sockets.push(main, bad);
    const [err] = await waitEvent(bad, "connect_error");
    assertEqual(err.message, "Invalid namespace", "connect_error message");
    assert(!bad.connected, "/random not connected");
    if (!main.connected) await waitEvent(main, "connect");
    await exchange(main, 3);
    return { message: err.message };
  },

  // Reference pub/sub API: acks, seqs, delivery, history replay with since,
  // unsubscribe, and error replies.
  async pubsub() {
    const ch = `interop-${RUN_ID}`;
    const other = `${ch}-other`;
    const { socket: a } = await connect();
    const { socket: b } = await connect();

    assertEqual(await ack(a, "subscribe", { channel: ch }), [{ ok: true, seq: 0 }], "subscribe ack");
    const live = collect(a, "message", 3);
    const payloads = [{ n: 1, s: "x" }, "two", 3];
    const seqs = [];
    for (const data of payloads) {
      const [r] = await ack(b, "publish", { channel: ch, data });
      assert(r && r.ok === true && Number.isInteger(r.seq), `publish ack ${JSON.stringify(r)}`);
      seqs.push(r.seq);
    }
    assertEqual(seqs, [1, 2, 3], "publish seqs on a fresh channel");
    assertEqual(
      (await live).map(([m]) => m),
      payloads.map((data, i) => ({ channel: ch, seq: i + 1, data })),
      "delivered messages",
    );

    // b joins late and asks for everything after seq 1: the ack first,
    // then seqs 2 and 3.
    let acked = false;
    const replay = collect(b, "message", 2);
    const ackedBeforeReplay = waitEvent(b, "message").then(() => acked);
    assertEqual(await ack(b, "subscribe", { channel: ch, since: 1 }).finally(() => (acked = true)), [{ ok: true, seq: 3 }], "subscribe since ack");
    assertEqual(
      (await replay).map(([m]) => m.seq),
      [2, 3],
      "replayed seqs",
    );
    assert(await ackedBeforeReplay, "subscribe ack arrives before the replayed messages");

    // a leaves; b still gets seq 4, a must not.
    let leaked = null;
    a.on("message", (m) => {
      if (m.channel === ch) leaked = m;
    });
    assertEqual(await ack(a, "unsubscribe", { channel: ch }), [{ ok: true }], "unsubscribe ack");
    const fourth = waitEvent(b, "message");
    const [r4] = await ack(a, "publish", { channel: ch, data: { last: true } });
    assertEqual(r4, { ok: true, seq: 4 }, "publish ack after unsubscribe");
    assertEqual((await fourth)[0], { channel: ch, seq: 4, data: { last: true } }, "message to remaining subscriber");
    // A round trip on a after b's delivery: a copy sent to a would be ahead of it.
    assertEqual(await ack(a, "subscribe", { channel: other }), [{ ok: true, seq: 0 }], "subscribe other");
    assert(leaked === null, `message after unsubscribe: ${JSON.stringify(leaked)}`);

    // Errors are acks {"error":"<code>: <detail>"}, not disconnects.
    const errors = {};
    const cases = {
      "subscribe without channel": ["subscribe", {}, "invalid_channel"],
      "subscribe twice": ["subscribe", { channel: other }, "already_subscribed"],
      "since ahead": ["subscribe", { channel: `${ch}-fresh`, since: 99 }, "bad_since"],
      "unsubscribe not subscribed": ["unsubscribe", { channel: `${ch}-never` }, "not_subscribed"],
      "publish without channel": ["publish", { data: 1 }, "invalid_channel"],
    };
    for (const [what, [ev, req, code]] of Object.entries(cases)) {
      const [r] = await ack(a, ev, req);
      assert(
        r && typeof r.error === "string" && r.error.startsWith(code + ": ") && r.ok === undefined,
        `${what}: want error "${code}: ...", got ${JSON.stringify(r)}`,
      );
      errors[what] = r.error;
    }
    assert(a.connected, "still connected after error acks");
    return { channel: ch, errors };
  },

  // Two clients on different transports share a channel ("room"); a third
  // publishes; both members get it once, the publisher (not a member) not.
  async room() {
    const room = `room-${RUN_ID}`;
    const { socket: a } = await connect("/", options("websocket"));
    const { socket: b } = await connect("/", options("polling"));
    const { socket: c } = await connect();
    for (const s of [a, b]) {
      assertEqual(await ack(s, "subscribe", { channel: room }), [{ ok: true, seq: 0 }], "subscribe ack");
    }
    let cGot = null;
    c.on("message", (m) => (cGot = m));
    const got = Promise.all([waitEvent(a, "message"), waitEvent(b, "message")]);
    const [r] = await ack(c, "publish", { channel: room, data: { hello: "room" } });
    assertEqual(r, { ok: true, seq: 1 }, "publish ack");
    const want = { channel: room, seq: 1, data: { hello: "room" } };
    const [[ma], [mb]] = await got;
    assertEqual(ma, want, "member on websocket");
    assertEqual(mb, want, "member on polling");
    // Nothing more may arrive: publish a second one and expect exactly seq 2 next.
    const next = Promise.all([waitEvent(a, "message"), waitEvent(b, "message")]);
    await ack(c, "publish", { channel: room, data: 2 });
    const [[na], [nb]] = await next;
    assertEqual([na.seq, nb.seq], [2, 2], "no duplicate delivery");
    assert(cGot === null, `non-member got ${JSON.stringify(cGot)}`);
    return { room };
  },

  // Many publishes with acks emitted at once on a channel the client is
  // subscribed to: on polling they go out in one or a few large POSTs, and
  // their acks and messages (two packets per publish) are more than the
  // server's outbound queue holds. The client reads all the while, so it is
  // not slow: every ack and every message arrives, in seq order.
  async pipeline() {
    const ch = `pipeline-${RUN_ID}`;
    const n = 2000;
    const { socket: s } = await connect();
    assertEqual(await ack(s, "subscribe", { channel: ch }), [{ ok: true, seq: 0 }], "subscribe ack");
    const live = collect(s, "message", n);
    const acks = Promise.all(Array.from({ length: n }, (_, i) => ack(s, "publish", { channel: ch, data: i })));
    const [replies, messages] = await Promise.all([acks, live]);
    assertEqual(
      replies.map(([r]) => r),
      Array.from({ length: n }, (_, i) => ({ ok: true, seq: i + 1 })),
      "publish acks",
    );
    assertEqual(
      messages.map(([m]) => [m.seq, m.data]),
      Array.from({ length: n }, (_, i) => [i + 1, i]),
      "messages in seq order",
    );
    assert(s.connected, "still connected");
    return { publishes: n, transport: transportName(s) };
  },

  // The server disconnects us: the Go test reads our id from the "connected"
  // line and tells the server to disconnect that socket.
  async "server-disconnect"() {
    const cmds = commands();
    try {
      const { socket: s } = await connect();
      const gone = waitEvent(s, "disconnect");
      emitLine({ event: "connected", id: s.id, sid: s.io.engine.id });
      const [reason] = await gone;
      assertEqual(reason, "io server disconnect", "disconnect reason");
      assert(!s.connected, "socket not connected after disconnect");
      assert(!s.active, "no automatic reconnection after a server disconnect");
      return { reason };
    } finally {
      cmds.close();
    }
  },
};

async function main() {
  const name = args.name;
  const run = scenarios[name];
  if (!URL || !run) {
    emitLine({ scenario: name, ok: false, error: `usage: --url URL --name {${Object.keys(scenarios).join(",")}}` });
    return 1;
  }
  const deadline = new Promise((_, reject) =>
    setTimeout(() => reject(new ScenarioError(`scenario timeout after ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS).unref(),
  );
  try {
    const details = await Promise.race([run(), deadline]);
    emitLine({ scenario: name, transport: TRANSPORT, ok: true, details });
    return 0;
  } catch (err) {
    const msg = err instanceof ScenarioError ? err.message : String((err && err.stack) || err);
    emitLine({ scenario: name, transport: TRANSPORT, ok: false, error: msg });
    return 1;
  } finally {
    for (const s of sockets) s.disconnect();
  }
}

main().then(exitAfterFlush);
