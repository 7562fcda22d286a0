// SSEParser: the event-stream format as the HTML standard gives it, fed
// in chunks cut anywhere, as a stream reader hands them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser } from '../static/stream.js';

// parse feeds chunks to a parser and returns the events it emitted.
function parse(...chunks) {
  const got = [];
  const p = new SSEParser((ev) => got.push(ev));
  for (const c of chunks) p.push(c);
  return got;
}

const STREAM =
  ': heartbeat\n\n' +
  'event: status\nid: 7\ndata: {"state":"idle","weight":0}\n\n' +
  'event: metrics\ndata: {"weight":12.5,\ndata: "sessions":{"blue":3}}\n\n' +
  'data: plain text\n\n';

const WANT = [
  { name: 'status', id: '7', data: { state: 'idle', weight: 0 } },
  { name: 'metrics', id: '', data: { weight: 12.5, sessions: { blue: 3 } } },
  { name: 'message', id: '', data: 'plain text' },
];

test('a whole stream: names, ids, JSON data, comments skipped', () => {
  assert.deepEqual(parse(STREAM), WANT);
});

test('the same events however the stream is cut in two', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parse(STREAM.slice(0, i), STREAM.slice(i)), WANT, `cut at ${i}`);
  }
});

test('the same events one character at a time', () => {
  assert.deepEqual(parse(...STREAM), WANT);
});

test('CRLF and lone CR end lines too, cut between CR and LF', () => {
  for (const eol of ['\r\n', '\r']) {
    const s = STREAM.replaceAll('\n', eol);
    assert.deepEqual(parse(s), WANT, JSON.stringify(eol));
    for (let i = 0; i <= s.length; i++) {
      assert.deepEqual(parse(s.slice(0, i), s.slice(i)), WANT, `${JSON.stringify(eol)} cut at ${i}`);
    }
  }
});

test('a CR at the end of a chunk waits for the next: CRLF is one line end', () => {
  // "\r" then "\n": one blank line would dispatch early and split the event.
  assert.deepEqual(parse('data: a\r', '\ndata: b\r', '\n\r', '\n'), [{ name: 'message', id: '', data: 'a\nb' }]);
});

test('an event whose blank line ends in a CR is dispatched at once, not when more bytes come', () => {
  assert.deepEqual(parse('data: a\r\r'), [{ name: 'message', id: '', data: 'a' }]);
  assert.deepEqual(parse('data: a\r', '\r'), [{ name: 'message', id: '', data: 'a' }]);
  // And the LF that may follow in the next chunk is still half of CRLF.
  assert.deepEqual(parse('data: a\r\r', '\ndata: b\n\n'), [{ name: 'message', id: '', data: 'a' }, { name: 'message', id: '', data: 'b' }]);
  assert.deepEqual(parse('data: a\r', '', '\n\r', '', '\n'), [{ name: 'message', id: '', data: 'a' }]);
});

test('multi-line data is joined with newlines', () => {
  assert.deepEqual(parse('data: one\ndata: two\ndata:\ndata: three\n\n'), [{ name: 'message', id: '', data: 'one\ntwo\n\nthree' }]);
});

test('only one space after the colon is dropped; a field without a colon has an empty value', () => {
  assert.deepEqual(parse('data:x\n\n', 'data:  two spaces\n\n', 'data\n\n'), [
    { name: 'message', id: '', data: 'x' },
    { name: 'message', id: '', data: ' two spaces' },
    { name: 'message', id: '', data: '' },
  ]);
});

test('an event without data is not dispatched, and its name does not carry over', () => {
  assert.deepEqual(parse('event: transition\n\n', 'data: 1\n\n'), [{ name: 'message', id: '', data: 1 }]);
});

test('the event name is reset after each event', () => {
  assert.deepEqual(parse('event: metrics\ndata: 1\n\ndata: 2\n\n').map((e) => e.name), ['metrics', 'message']);
});

test('unknown fields and comments are ignored', () => {
  assert.deepEqual(parse(': hi\nretry: 10\nfoo: bar\ndata: 1\n:: x\n\n'), [{ name: 'message', id: '', data: 1 }]);
});

test('an unfinished event is not emitted', () => {
  assert.deepEqual(parse('data: 1\n\ndata: 2\n'), [{ name: 'message', id: '', data: 1 }]);
});

test('a colon in the value stays', () => {
  assert.deepEqual(parse('data: {"at":"12:00:00"}\n\n'), [{ name: 'message', id: '', data: { at: '12:00:00' } }]);
});
