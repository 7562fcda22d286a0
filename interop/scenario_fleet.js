// A fleet of official socket.io-client connections to Baton's gateway, for
// the multi-process scenarios in internal/scenario:
//
//   node scenario_fleet.js --url http://127.0.0.1:PORT [--timeout MS]
//
// --timeout bounds the whole run; the Go test derives it from its own
// deadline, so that the process never outlives the test.
//
// The Go test drives it with JSON commands on stdin (see lib.js):
//
//   {"cmd":"start","clients":[{"user":"u1","channels":["a","b"],"transport":"websocket"}, ...]}
//       connects every client (a bounded number at a time), subscribes each
//       to its channels, prints {"event":"ready","i":I,"id":SOCKET_ID,"acks":{CH:SEQ}}
//       per client, then {"event":"all_ready","ms":M}.
//   {"cmd":"finish","last":{CH:SEQ},"drain_ms":N}
//       waits up to drain_ms (the Go test's own wait less a margin) until
//       every client has the messages up to last on each of its channels,
//       then prints {"event":"client","i":I,...} per client and the result
//       line.
//
// The process exits only once stdout has taken every line: on a pipe,
// Node queues what the reader has not yet taken, and process.exit() would
// drop that queue (a busy Go test then saw a few hundred client lines and
// no result line).
//
// Each client checks its stream as it arrives: on every channel the first
// message after the subscribe ack must have seq ack+1 and every next one
// seq+1 (no gap, no duplicate, no disorder). Clients never reconnect
// (reconnection: false), so a disconnect is final and reported.
"use strict";

const { io } = require("socket.io-client");
const { ScenarioError, ack, emitLine, commands, parseArgs } = require("./lib");

const args = parseArgs(process.argv.slice(2));
const URL = args.url;
const RUN_TIMEOUT_MS = Number(args.timeout || 300000);
const CONNECT_AT_ONCE = 25;
const DEFAULT_DRAIN_MS = 60000;
const runDeadline = Date.now() + RUN_TIMEOUT_MS;

// Client is one socket and the check of its streams.
class Client {
  constructor(i, spec) {
    this.i = i;
    this.spec = spec;
    this.next = {}; // channel -> next expected seq (after the ack)
    this.early = {}; // channel -> seqs that arrived before the ack
    this.received = 0;
    this.errors = [];
    this.disconnects = [];
    this.connectErrors = 0;
  }

  fail(msg) {
    if (this.errors.length < 5) this.errors.push(msg);
  }

  async start() {
    const opts = { forceNew: true, reconnection: false, timeout: 20000, query: { user: this.spec.user } };
    if (this.spec.transport === "websocket") opts.transports = ["websocket"];
    else if (this.spec.transport === "polling") opts.transports = ["polling"];
    const s = io(URL, opts);
    this.socket = s;
    s.on("disconnect", (reason) => this.disconnects.push(reason));
    s.io.on("reconnect_attempt", () => this.fail("reconnect attempt"));
    s.on("message", (m) => this.onMessage(m));
    await new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", (err) => {
        this.connectErrors++;
        reject(new ScenarioError(`client ${this.i}: connect_error: ${err.message}`));
      });
    });
    this.id = s.id;
    const acks = {};
    await Promise.all(
      this.spec.channels.map(async (ch) => {
        const [reply] = await ack(s, "subscribe", { channel: ch });
        if (!reply || reply.ok !== true || typeof reply.seq !== "number") {
          throw new ScenarioError(`client ${this.i}: subscribe ${ch}: ${JSON.stringify(reply)}`);
        }
        acks[ch] = reply.seq;
        this.next[ch] = reply.seq + 1;
        for (const seq of this.early[ch] || []) this.check(ch, seq);
        delete this.early[ch];
      }),
    );
    return acks;
  }

  onMessage(m) {
    if (!m || typeof m.channel !== "string" || typeof m.seq !== "number") {
      this.fail(`bad message ${JSON.stringify(m)}`);
      return;
    }
    this.received++;
    if (!(m.channel in this.next)) {
      // Before the ack (the gateway acks before messages, so this is a
      // bug worth seeing) or a channel never subscribed.
      if (this.spec.channels.includes(m.channel)) (this.early[m.channel] ||= []).push(m.seq);
      else this.fail(`message on unsubscribed channel ${m.channel}`);
      return;
    }
    this.check(m.channel, m.seq);
  }

  check(ch, seq) {
    const want = this.next[ch];
    if (seq === want) this.next[ch] = want + 1;
    else if (seq < want) this.fail(`${ch}: duplicate or old seq ${seq}, want ${want}`);
    else {
      this.fail(`${ch}: gap: seq ${seq}, want ${want}`);
      this.next[ch] = seq + 1; // go on checking from here
    }
  }

  caughtUp(last) {
    return this.spec.channels.every((ch) => ch in this.next && this.next[ch] > (last[ch] || 0));
  }

  report(last) {
    const behind = {};
    for (const ch of this.spec.channels) {
      const have = (this.next[ch] || 1) - 1;
      if (have < (last[ch] || 0)) behind[ch] = `${have}/${last[ch]}`;
    }
    return {
      event: "client",
      i: this.i,
      id: this.id,
      ok: this.errors.length === 0 && this.disconnects.length === 0 && Object.keys(behind).length === 0,
      received: this.received,
      errors: this.errors,
      disconnects: this.disconnects,
      behind,
      transport: this.socket && this.socket.io.engine ? this.socket.io.engine.transport.name : "",
    };
  }
}

async function startAll(specs) {
  const clients = specs.map((spec, i) => new Client(i, spec));
  let nextIndex = 0;
  async function worker() {
    while (nextIndex < clients.length) {
      const c = clients[nextIndex++];
      const acks = await c.start();
      emitLine({ event: "ready", i: c.i, id: c.id, acks });
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONNECT_AT_ONCE, clients.length) }, worker));
  return clients;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function run() {
  const cmds = commands();
  const start = await cmds.next(60000);
  if (start.cmd !== "start") throw new ScenarioError(`first command ${JSON.stringify(start)}, want start`);
  const t0 = Date.now();
  const clients = await startAll(start.clients);
  emitLine({ event: "all_ready", ms: Date.now() - t0 });

  const finish = await cmds.next(Math.max(runDeadline - Date.now(), 0));
  if (finish.cmd !== "finish") throw new ScenarioError(`command ${JSON.stringify(finish)}, want finish`);
  const last = finish.last || {};
  const drainStart = Date.now();
  const deadline = drainStart + Number(finish.drain_ms || DEFAULT_DRAIN_MS);
  while (Date.now() < deadline && !clients.every((c) => c.caughtUp(last) || c.disconnects.length > 0)) {
    await sleep(50);
  }
  let bad = 0;
  for (const c of clients) {
    const r = c.report(last);
    if (!r.ok) bad++;
    emitLine(r);
  }
  cmds.close();
  for (const c of clients) c.socket.close();
  await closesSent(2000);
  return { clients: clients.length, bad, drain_ms: Date.now() - drainStart };
}

// closesSent waits, at most ms, until the clients' sockets are closed: a
// long-polling client says goodbye in a POST, which an exit right after
// close() would cut off, leaving the gateway to find out by its heartbeat.
async function closesSent(ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && process.getActiveResourcesInfo().includes("TCPSocketWrap")) {
    await sleep(10);
  }
}

// exitAfter prints the result line and exits with code once stdout has
// flushed it and, the writes being in order, every line before it.
function exitAfter(result, code) {
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(code));
}

const overall = setTimeout(() => {
  exitAfter({ scenario: "fleet", ok: false, error: `run timeout after ${RUN_TIMEOUT_MS} ms` }, 1);
}, RUN_TIMEOUT_MS);

run().then(
  (details) => {
    clearTimeout(overall);
    exitAfter({ scenario: "fleet", ok: details.bad === 0, details }, details.bad === 0 ? 0 : 1);
  },
  (err) => {
    clearTimeout(overall);
    exitAfter({ scenario: "fleet", ok: false, error: String(err && err.message ? err.message : err) }, 1);
  },
);
