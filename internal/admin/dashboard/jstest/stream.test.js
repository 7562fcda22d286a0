// The event stream's reader: the reconnect backoff, and follow() against a
// real HTTP server on loopback (Node's fetch stands in for the browser's).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { Backoff, follow } from '../static/stream.js';
import { APIError } from '../static/api.js';

test('Backoff doubles from 200 ms to 5 s, jittered over the upper half', () => {
  const b = new Backoff();
  const low = [], high = [];
  for (let i = 0; i < 8; i++) low.push(b.next(() => 0));
  b.reset();
  for (let i = 0; i < 8; i++) high.push(b.next(() => 1));
  assert.deepEqual(low, [100, 200, 400, 800, 1600, 2500, 2500, 2500]);
  assert.deepEqual(high, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  assert.equal(b.attempt, 8);
});

test('Backoff.reset starts afresh', () => {
  const b = new Backoff();
  b.next(() => 1); b.next(() => 1); b.next(() => 1);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(() => 1), 200);
  assert.equal(b.attempt, 1);
});

test('Backoff waits stay within [delay/2, delay]', () => {
  const b = new Backoff(200, 5000);
  let delay = 200;
  for (let i = 0; i < 20; i++) {
    const w = b.next();
    assert.ok(w >= delay / 2 && w <= delay, `attempt ${i + 1}: ${w} outside [${delay / 2}, ${delay}]`);
    delay = Math.min(delay * 2, 5000);
  }
});

// ---- follow() over HTTP -------------------------------------------------

// The server answers each request to /api/v1/events with the next handler
// of `answers`; `requests` has each request, with a promise of its close.
let server, base, answers, requests;
const realFetch = globalThis.fetch;

before(async () => {
  const store = new Map();
  globalThis.sessionStorage = {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  };
  sessionStorage.setItem('baton.admin.token', 'sekret');
  server = http.createServer((req, res) => {
    const closed = once(res, 'close');
    requests.push({ req, closed });
    const h = answers.shift();
    if (h) h(req, res);
    else { res.writeHead(503); res.end('no more answers'); }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${server.address().port}`;
  globalThis.fetch = (path, init) => realFetch(base + path, init);
});

after(() => {
  globalThis.fetch = realFetch;
  server.closeAllConnections();
  server.close();
});

function reset(...hs) {
  answers = hs;
  requests = [];
}

// sse starts an event stream answer and writes chunks (strings or bytes)
// to it; end ends it.
const sse = (chunks, end = false) => (req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  for (const c of chunks) res.write(c);
  if (end) res.end();
};
const status = (code, body) => (req, res) => {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

// watch follows the stream and records what it reports; until(pred)
// resolves once pred holds on the record.
function watch(opts = {}) {
  const rec = { events: [], states: [], fatal: null };
  let waiters = [];
  const check = () => { waiters = waiters.filter((w) => !(w.pred(rec) && (w.resolve(), true))); };
  const stop = follow({
    onEvent: (ev) => { rec.events.push(ev); if (opts.onEvent) opts.onEvent(ev); check(); },
    onState: (s, d) => { rec.states.push([s, d]); check(); },
    onFatal: (err) => { rec.fatal = err; check(); },
  });
  const until = (pred, what) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(rec)}`)), 5000);
    waiters.push({ pred, resolve: () => { clearTimeout(t); resolve(); } });
    check();
  });
  return { rec, stop, until };
}

test('follow: events cut anywhere (even inside a UTF-8 character) arrive whole; the token is sent', async () => {
  const body = Buffer.from('event: status\ndata: {"reason":"café ✓"}\n\n: hb\n\nevent: metrics\ndata: {"weight":5}\n\n');
  const cut = body.indexOf(Buffer.from('é')) + 1; // between the two bytes of é
  reset(sse([body.subarray(0, cut), body.subarray(cut, cut + 7), body.subarray(cut + 7)]));
  const w = watch();
  try {
    await w.until((r) => r.events.length === 2, 'two events');
    assert.deepEqual(w.rec.events, [
      { name: 'status', id: '', data: { reason: 'café ✓' } },
      { name: 'metrics', id: '', data: { weight: 5 } },
    ]);
    assert.deepEqual(w.rec.states, [['connecting', ''], ['live', '']]);
    assert.equal(requests[0].req.headers.authorization, 'Bearer sekret');
    assert.equal(requests[0].req.headers.accept, 'text/event-stream');
  } finally { w.stop(); }
  await requests[0].closed; // stop ends the connection
});

for (const code of [401, 403, 404]) {
  test(`follow: a ${code} is final, not retried`, async () => {
    reset(status(code, { error: `nope ${code}` }));
    const w = watch();
    try {
      await w.until((r) => r.fatal, 'the fatal error');
      assert.ok(w.rec.fatal instanceof APIError);
      assert.equal(w.rec.fatal.status, code);
      assert.equal(w.rec.fatal.message, `nope ${code}`);
      assert.deepEqual(w.rec.states, [['connecting', '']]);
    } finally { w.stop(); }
    assert.equal(requests.length, 1);
  });
}

for (const code of [408, 429, 500, 503]) {
  test(`follow: a ${code} is retried after a backoff`, async () => {
    reset(status(code, { error: `later ${code}` }), sse(['data: 1\n\n']));
    const w = watch();
    try {
      await w.until((r) => r.events.length === 1, 'the event after the retry');
      const [st, detail] = w.rec.states[1];
      assert.equal(st, 'reconnecting');
      assert.match(detail, new RegExp(`^later ${code}; retry 1 in 0\\.[12] s$`));
      assert.deepEqual(w.rec.states.at(-1), ['live', '']);
      assert.equal(w.rec.fatal, null);
    } finally { w.stop(); }
  });
}

test('follow: a refused connection is retried', async () => {
  // A server that closes the socket at once: fetch fails with a TypeError.
  reset((req) => req.socket.destroy(), sse(['data: 2\n\n']));
  const w = watch();
  try {
    await w.until((r) => r.events.length === 1, 'the event after the retry');
    assert.equal(w.rec.states[1][0], 'reconnecting');
    assert.equal(w.rec.fatal, null);
  } finally { w.stop(); }
});

test('follow: a connection that delivered an event starts the backoff afresh', async () => {
  reset(status(500, { error: 'a' }), status(500, { error: 'b' }), sse(['data: 1\n\n'], true), status(500, { error: 'c' }), sse(['data: 2\n\n']));
  const w = watch();
  try {
    await w.until((r) => r.events.length === 2, 'two events');
    const retries = w.rec.states.filter(([s]) => s === 'reconnecting').map(([, d]) => d.replace(/ in .*/, ''));
    assert.deepEqual(retries, ['a; retry 1', 'b; retry 2', 'stream ended; retry 1', 'c; retry 2']);
  } finally { w.stop(); }
});

test('follow: stop during the backoff ends it: no more requests', async () => {
  reset(status(500, { error: 'down' }));
  const w = watch();
  await w.until((r) => r.states.some(([s]) => s === 'reconnecting'), 'a reconnect');
  w.stop();
  await new Promise((r) => setTimeout(r, 300)); // past the longest first wait (200 ms)
  assert.equal(requests.length, 1);
});

test('follow: a throw from onEvent ends that connection and reconnects', async () => {
  // The first connection stays open; the handler throws on its event.
  reset(sse(['data: "boom"\n\n']), sse(['data: "fine"\n\n']));
  const w = watch({ onEvent: (ev) => { if (ev.data === 'boom') throw new Error('handler broke'); } });
  try {
    await w.until((r) => r.events.length === 2, 'the event of the second connection');
    assert.match(w.rec.states.find(([s]) => s === 'reconnecting')[1], /^handler broke; retry 1/);
    // The first connection must be closed, not left open (unread, holding
    // one of the browser's few connections to the origin).
    let timer;
    const gone = await Promise.race([
      requests[0].closed.then(() => true),
      new Promise((r) => { timer = setTimeout(() => r(false), 2000); }),
    ]);
    clearTimeout(timer);
    assert.ok(gone, 'the connection whose handler threw is still open');
  } finally { w.stop(); }
});
