// Follows the event stream, GET /api/v1/events (Server-Sent Events).
//
// EventSource cannot send an Authorization header, so the stream is read
// with fetch() and a stream reader, and parsed here. The reconnect policy
// is that of `baton rollout watch`: a dropped stream or a refused
// connection is retried after a jittered backoff from 200 ms doubling to
// 5 s; a stream silent for 45 s (no event, no heartbeat comment: the
// gateway sends one every 15 s) counts as dropped; a 401 or another 4xx
// answer (but 408 and 429) is final.

import { authHeaders, readError } from './api.js';

const MIN_DELAY = 200;
const MAX_DELAY = 5000;
const SILENCE = 45000;

// follow reads the stream until the returned stop function is called or a
// final error comes. Callbacks:
//   onEvent({name, id, data})   each event, data parsed from JSON
//   onState(state, detail)      'connecting' | 'live' | 'reconnecting'
//   onFatal(err)                an APIError that ends the following
export function follow({ onEvent, onState, onFatal }) {
  const stopped = new AbortController();
  (async () => {
    const backoff = new Backoff();
    onState('connecting', '');
    while (!stopped.signal.aborted) {
      let got = false; // an event came on this connection
      let reason;
      try {
        await readOnce(stopped.signal, (ev) => { got = true; onEvent(ev); }, () => onState('live', ''));
        reason = 'stream ended';
      } catch (err) {
        if (stopped.signal.aborted) return;
        if (err.final) { onFatal(err); return; }
        reason = err.message || String(err);
      }
      if (stopped.signal.aborted) return;
      if (got) backoff.reset();
      const wait = backoff.next();
      onState('reconnecting', `${reason}; retry ${backoff.attempt} in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait, stopped.signal);
    }
  })().catch((err) => onFatal(err)); // a throw from onState or onFatal: shown, not lost
  // (one from onEvent is caught in readOnce: it ends that connection, and
  // the reconnect's detail shows its message)
  return () => stopped.abort();
}

// Backoff is the wait before each reconnection: from MIN_DELAY doubling
// to MAX_DELAY, started afresh by reset (a connection that delivered an
// event). attempt counts the reconnections since.
export class Backoff {
  constructor(min = MIN_DELAY, max = MAX_DELAY) {
    this.min = min;
    this.max = max;
    this.reset();
  }

  reset() { this.delay = this.min; this.attempt = 0; }

  // next counts an attempt and returns its wait in ms. Full jitter on the
  // upper half: many tabs do not come back at once.
  next(random = Math.random) {
    this.attempt++;
    const wait = this.delay / 2 + random() * this.delay / 2;
    this.delay = Math.min(this.delay * 2, this.max);
    return wait;
  }
}

// readOnce opens one connection and hands its events to emit until it
// ends. It throws on a refused or failed connection; err.final is set on
// an answer not worth retrying.
async function readOnce(stopSignal, emit, onOpen) {
  const conn = new AbortController();
  const stop = () => conn.abort();
  stopSignal.addEventListener('abort', stop);
  let timer = 0;
  const quiet = () => {
    clearTimeout(timer);
    timer = setTimeout(() => conn.abort(new Error('stream silent for 45 s')), SILENCE);
  };
  try {
    quiet();
    const res = await fetch('/api/v1/events', {
      headers: authHeaders({ Accept: 'text/event-stream' }),
      cache: 'no-store',
      signal: conn.signal,
    });
    if (!res.ok) {
      const err = await readError(res);
      err.final = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      throw err;
    }
    onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SSEParser(emit);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      quiet();
      parser.push(value);
    }
  } catch (err) {
    // An abort for silence reports its reason rather than "aborted".
    if (conn.signal.aborted && conn.signal.reason instanceof Error && !stopSignal.aborted) throw conn.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    stopSignal.removeEventListener('abort', stop);
    // Whatever ended this connection (a throw from emit too), it is closed,
    // not left open unread.
    conn.abort();
  }
}

// SSEParser splits the text of a stream into events, as the HTML
// standard's event-stream format says: fields "event", "data" and "id",
// a blank line ends an event, a line starting with ":" is a comment.
export class SSEParser {
  constructor(emit) {
    this.emit = emit;
    this.buf = '';
    this.cr = false; // the last chunk ended with "\r"
    this.reset();
  }

  reset() { this.name = ''; this.id = ''; this.data = []; }

  push(text) {
    // A "\r" that ended the last chunk ended its line; if this chunk
    // starts with "\n", that is the second half of the "\r\n".
    if (this.cr && text) {
      this.cr = false;
      if (text[0] === '\n') text = text.slice(1);
    }
    this.buf += text;
    let nl;
    while ((nl = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buf.slice(0, nl);
      const len = this.buf.startsWith('\r\n', nl) ? 2 : 1;
      if (len === 1 && this.buf[nl] === '\r' && nl === this.buf.length - 1) this.cr = true;
      this.buf = this.buf.slice(nl + len);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      if (this.data.length > 0) {
        const raw = this.data.join('\n');
        let data;
        try { data = JSON.parse(raw); } catch { data = raw; }
        this.emit({ name: this.name || 'message', id: this.id, data });
      }
      this.reset();
      return;
    }
    if (line.startsWith(':')) return; // a comment: the heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.name = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
