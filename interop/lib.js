// Helpers shared by the interop scenarios: waiting for events with deadlines,
// comparing values, and the line protocol spoken with the Go test.
//
// Line protocol (stdout, one JSON object per line):
//   {"event":"...", ...}            progress the Go test may react to
//   {"scenario":"...","ok":true|false,"error":"...","details":{...}}
//                                   the result; always the last line
// Commands from the Go test arrive on stdin, one JSON object per line.
"use strict";

const { isDeepStrictEqual, inspect } = require("node:util");
const readline = require("node:readline");

// DEFAULT_WAIT bounds every single wait; the Go test bounds the whole run.
const DEFAULT_WAIT_MS = 10000;

class ScenarioError extends Error {}

function fail(msg) {
  throw new ScenarioError(msg);
}

function assertEqual(got, want, what) {
  if (!isDeepStrictEqual(got, want)) {
    fail(`${what}: got ${inspect(got, { depth: 6 })}, want ${inspect(want, { depth: 6 })}`);
  }
}

function assert(cond, what) {
  if (!cond) fail(what);
}

// waitEvent resolves with the arguments of the next `event` on emitter, or
// rejects after ms. On a socket.io socket, connect_error and disconnect
// reject at once (with their reason) unless they are what is awaited.
function waitEvent(emitter, event, ms = DEFAULT_WAIT_MS) {
  return new Promise((resolve, reject) => {
    const isSocket = typeof emitter.io === "object";
    const watched = isSocket ? ["connect_error", "disconnect"].filter((e) => e !== event) : [];
    const onEvent = (...args) => {
      cleanup();
      resolve(args);
    };
    const onFailure = watched.map((bad) => (reason) => {
      cleanup();
      const why = reason instanceof Error ? reason.message : reason;
      reject(new ScenarioError(`${bad} (${why}) while waiting for ${event}`));
    });
    const timer = setTimeout(() => {
      cleanup();
      reject(new ScenarioError(`timeout after ${ms} ms waiting for ${event}`));
    }, ms);
    function cleanup() {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      watched.forEach((bad, i) => emitter.off(bad, onFailure[i]));
    }
    emitter.on(event, onEvent);
    watched.forEach((bad, i) => emitter.on(bad, onFailure[i]));
  });
}

// collect gathers `n` occurrences of event (each as its argument list), in
// arrival order, or rejects after ms with what it had so far.
function collect(emitter, event, n, ms = DEFAULT_WAIT_MS) {
  return new Promise((resolve, reject) => {
    const got = [];
    const onEvent = (...args) => {
      got.push(args);
      if (got.length === n) {
        cleanup();
        resolve(got);
      }
    };
    const onDisconnect = (reason) => {
      cleanup();
      reject(new ScenarioError(`disconnect (${reason}) after ${got.length}/${n} ${event} events`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ScenarioError(`timeout after ${ms} ms: ${got.length}/${n} ${event} events: ${JSON.stringify(got)}`));
    }, ms);
    function cleanup() {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off("disconnect", onDisconnect);
    }
    emitter.on(event, onEvent);
    emitter.on("disconnect", onDisconnect);
  });
}

// ack emits an event and resolves with the acknowledgement's arguments.
function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(DEFAULT_WAIT_MS).emit(event, ...args, (err, ...reply) => {
      if (!err) return resolve(reply);
      const state = socket.connected ? "connected" : `not connected (${socket.lastDisconnect || "?"})`;
      reject(new ScenarioError(`no ack for ${event} within ${DEFAULT_WAIT_MS} ms; socket ${state}`));
    });
  });
}

function emitLine(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// exitAfterFlush exits once stdout has taken everything written so far: on a
// pipe Node queues what the reader has not read yet, and a bare
// process.exit() would throw that away.
function exitAfterFlush(code) {
  process.stdout.write("", () => process.exit(code));
}

// commands yields the JSON commands the Go test writes on stdin.
function commands() {
  const rl = readline.createInterface({ input: process.stdin });
  const queue = [];
  const waiters = [];
  rl.on("line", (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      return;
    }
    const w = waiters.shift();
    if (w) w(cmd);
    else queue.push(cmd);
  });
  return {
    next(ms = DEFAULT_WAIT_MS) {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new ScenarioError(`no command on stdin within ${ms} ms`)), ms);
        waiters.push((cmd) => {
          clearTimeout(timer);
          resolve(cmd);
        });
      });
    },
    close() {
      rl.close();
    },
  };
}

// parseArgs reads --name value pairs.
function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (m && i + 1 < argv.length) out[m[1]] = argv[++i];
  }
  return out;
}

module.exports = {
  DEFAULT_WAIT_MS,
  ScenarioError,
  fail,
  assert,
  assertEqual,
  waitEvent,
  collect,
  ack,
  emitLine,
  exitAfterFlush,
  commands,
  parseArgs,
};
