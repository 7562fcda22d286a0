// The view's formats, the hold countdown, the charts' series and the
// event log's bound.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { install } from './fakedom.js';
import { EventLog, Series, count, holdLeft, ms, num, pct, rate, secs } from '../static/view.js';

let doc;
beforeEach(() => { doc = install(); });

test('pct: a weight in percent, two decimals at most, no trailing zeros', () => {
  assert.equal(pct(0), '0 %');
  assert.equal(pct(25), '25 %');
  assert.equal(pct(12.5), '12.5 %');
  assert.equal(pct(33.333333), '33.33 %');
  assert.equal(pct(0.1 + 0.2), '0.3 %');
  assert.equal(pct(100), '100 %');
});

test('ms: two decimals under 10 ms, whole above', () => {
  assert.equal(ms(0), '0.00 ms');
  assert.equal(ms(1.234), '1.23 ms');
  assert.equal(ms(9.999), '10.00 ms');
  assert.equal(ms(10), '10 ms');
  assert.equal(ms(123.6), '124 ms');
});

test('ms: a negative latency (a difference, green faster) is shown as its positive', () => {
  assert.equal(ms(-1.234), '-1.23 ms');
  assert.equal(ms(-50), '-50 ms');
  assert.equal(ms(-123.6), '-124 ms');
});

test('rate: a fraction in percent with two decimals', () => {
  assert.equal(rate(0), '0.00 %');
  assert.equal(rate(0.01234), '1.23 %');
  assert.equal(rate(1), '100.00 %');
  assert.equal(rate(-0.005), '-0.50 %');
});

test('count: a dash when unknown, zero shown', () => {
  assert.equal(count(undefined), '–');
  assert.equal(count(null), '–');
  assert.equal(count(0), '0');
  assert.equal(count(42), '42');
});

test('secs: ms shown in seconds with one decimal', () => {
  assert.equal(secs(0), '0.0 s');
  assert.equal(secs(1500), '1.5 s');
  assert.equal(secs(29960), '30.0 s');
});

test('num: whole or large as is, small with three significant digits, dash if not a number', () => {
  assert.equal(num(3), '3');
  assert.equal(num(-2), '-2');
  assert.equal(num(123.456), '123.46');
  assert.equal(num(0.123456), '0.123');
  assert.equal(num(1.23456), '1.23');
  assert.equal(num(0.00012345), '0.000123');
  assert.equal(num(undefined), '–');
  assert.equal(num(null), '–');
  assert.equal(num('1'), '–');
});

test('holdLeft: none unless applied while shifting; paused says its own; never negative', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  const until = '2025-01-01T00:00:30Z';
  assert.equal(holdLeft({ state: 'shifting', applied: true, hold_until: until }, 0, now), 30000);
  // The server's clock is 5 s ahead: 5 s less remains.
  assert.equal(holdLeft({ state: 'shifting', applied: true, hold_until: until }, 5000, now), 25000);
  assert.equal(holdLeft({ state: 'shifting', applied: true, hold_until: until }, 0, now + 60000), 0);
  assert.equal(holdLeft({ state: 'shifting', applied: false, hold_until: until }, 0, now), null);
  assert.equal(holdLeft({ state: 'shifting', applied: true }, 0, now), null);
  assert.equal(holdLeft({ state: 'idle' }, 0, now), null);
  assert.equal(holdLeft({ state: 'paused', hold_left_ms: 1234 }, 0, now), 1234);
  assert.equal(holdLeft({ state: 'paused' }, 0, now), 0);
});

test('EventLog keeps the newest 200, newest on top', () => {
  const log = new EventLog(200);
  const list = doc.getElementById('event-log');
  for (let i = 1; i <= 250; i++) log.add(`event ${i}`, i % 2 ? 'bad' : '');
  assert.equal(list.children.length, 200);
  assert.match(list.children[0].textContent, / event 250$/);
  assert.match(list.children[199].textContent, / event 51$/);
  assert.equal(list.children[0].className, '');
  assert.equal(list.children[199].className, 'bad');
});

test('EventLog under its bound keeps everything', () => {
  const log = new EventLog(200);
  for (let i = 1; i <= 200; i++) log.add(`event ${i}`);
  assert.equal(doc.getElementById('event-log').children.length, 200);
  assert.match(doc.getElementById('event-log').children[199].textContent, / event 1$/);
});

test('EventLog.transition: as `baton rollout watch` prints it; failures are bad', () => {
  const log = new EventLog(200);
  const list = doc.getElementById('event-log');
  log.transition({ kind: 'step_applied', from: 'shifting', to: 'shifting', step: 2, weight: 25, moved: 7, took_ms: 1500 });
  assert.match(list.children[0].textContent, / step_applied shifting → shifting step 2 weight 25 % moved 7 failed 0 in 1\.5 s$/);
  assert.equal(list.children[0].className, '');
  log.transition({ kind: 'gate_failed', from: 'shifting', to: 'rolling_back', step: 2, weight: 25,
    verdict: { outcome: 'fail', green: { error_rate: 0.05, p95: '120ms' } }, message: 'too many errors' });
  assert.match(list.children[0].textContent, /gate_failed .* verdict fail \(green err 5\.00 % p95 120ms\): too many errors$/);
  assert.equal(list.children[0].className, 'bad');
});

test('Series.seed aligns both backends on the newest tick and keeps at most cap', () => {
  const s = new Series(3);
  s.seed({
    blue: [{ error_rate: 0.1 }, { error_rate: 0.2 }, { error_rate: 0.3 }, { error_rate: 0.4, p95_ms: 9 }],
    green: [{ p99_ms: 7 }, { p99_ms: 8 }],
  });
  assert.deepEqual(s.points.map((p) => p.errBlue), [0.2, 0.3, 0.4]);
  assert.deepEqual(s.points.map((p) => p.p99Green), [0, 7, 8]);
  assert.equal(s.points[2].p95Blue, 9);
  s.seed(null);
  assert.deepEqual(s.points, []);
});

test('Series.add keeps the newest cap points; a missing backend counts as 0', () => {
  const s = new Series(300);
  for (let i = 0; i < 305; i++) s.add({ backends: { blue: { error_rate: i, p95_ms: 1 } } });
  assert.equal(s.points.length, 300);
  assert.equal(s.points[0].errBlue, 5);
  assert.equal(s.points[299].errBlue, 304);
  assert.equal(s.points[299].errGreen, 0);
  s.add({});
  assert.equal(s.points[299].p95Blue, 0);
});

test('Series.draw fills the three charts and their scales', () => {
  const s = new Series(300);
  s.add({ backends: { blue: { error_rate: 0.02, p95_ms: 5, p99_ms: 50 }, green: { error_rate: 0.01, p95_ms: 4, p99_ms: 40 } } });
  s.draw();
  assert.equal(doc.getElementById('chart-errors-max').textContent, 'max 2.00 %');
  assert.equal(doc.getElementById('chart-p95-max').textContent, 'max 5.00 ms');
  assert.equal(doc.getElementById('chart-p99-max').textContent, 'max 50 ms');
  const lines = doc.getElementById('chart-p99').children.filter((c) => c.tagName === 'polyline');
  assert.deepEqual(lines.map((l) => l.attrs.class), ['blue', 'green']);
});
