// The charts' layout: scale, and the polylines' points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { H, W, plot, draw } from '../static/chart.js';
import { install } from './fakedom.js';

// xy parses a points attribute.
const xy = (points) => points.split(' ').map((p) => p.split(',').map(Number));

test('plot: no series, or only empty ones, draws no line; the scale is 0', () => {
  assert.deepEqual(plot([], 300), { max: 0, lines: [] });
  assert.deepEqual(plot([{ cls: 'blue', values: [] }], 300), { max: 0, lines: [] });
});

test('plot: all zero lies on the base line', () => {
  const { max, lines } = plot([{ cls: 'blue', values: [0, 0, 0] }], 300);
  assert.equal(max, 0);
  assert.deepEqual(xy(lines[0].points).map(([, y]) => y), [H - 1, H - 1, H - 1]);
});

test('plot: the newest point is at the right edge, one slot apart; the largest value at the top', () => {
  const { max, lines } = plot([{ cls: 'blue', values: [0, 5, 10] }, { cls: 'green', values: [2] }], 5);
  assert.equal(max, 10);
  const step = W / 4;
  assert.deepEqual(xy(lines[0].points), [[W - 2 * step, H - 1], [W - step, (H - 1 + 4) / 2], [W, 4]]);
  // One point: drawn as a short flat line over the last slot.
  assert.equal(lines[1].cls, 'green');
  assert.deepEqual(xy(lines[1].points), [[W - step, 64], [W, 64]]);
});

test('plot: series share one scale', () => {
  const { lines } = plot([{ cls: 'blue', values: [1] }, { cls: 'green', values: [4] }], 300);
  const y = (l) => xy(l.points).at(-1)[1];
  assert.equal(y(lines[1]), 4);
  assert.equal(y(lines[0]), Number((H - 1 - (1 / 4) * (H - 1 - 4)).toFixed(1)));
});

test('plot: a full series spans the width', () => {
  const values = Array.from({ length: 300 }, (_, i) => i);
  const pts = xy(plot([{ cls: 'blue', values }], 300).lines[0].points);
  assert.equal(pts.length, 300);
  assert.equal(pts[0][0], 0);
  assert.equal(pts[299][0], W);
});

test('plot: one slot only still draws', () => {
  const { lines } = plot([{ cls: 'blue', values: [3] }], 1);
  assert.deepEqual(xy(lines[0].points), [[0, 4], [W, 4]]);
});

test('draw: a base line and one polyline per series with points; the scale in the label', () => {
  const doc = install();
  const svg = doc.createElementNS('', 'svg');
  const label = doc.createElement('span');
  draw(svg, label, [{ cls: 'blue', values: [1, 2] }, { cls: 'green', values: [] }], 300, (v) => `${v} ms`);
  assert.equal(svg.attrs.viewBox, `0 0 ${W} ${H}`);
  assert.deepEqual(svg.children.map((c) => [c.tagName, c.attrs.class]), [['line', 'base'], ['polyline', 'blue']]);
  assert.equal(label.textContent, 'max 2 ms');
});

test('plot: a value that is not a finite number is drawn at 0, and no coordinate is NaN', () => {
  const { max, lines } = plot([{ cls: 'blue', values: [NaN, 2, undefined, Infinity, -1] }, { cls: 'green', values: [NaN] }], 300);
  assert.equal(max, 2);
  for (const l of lines) {
    assert.doesNotMatch(l.points, /NaN|Infinity/, `${l.cls}: ${l.points}`);
  }
  assert.deepEqual(xy(lines[0].points).map(([, y]) => y), [H - 1, 4, H - 1, H - 1, H - 1]);
  assert.deepEqual(xy(lines[1].points).map(([, y]) => y), [H - 1, H - 1]);
});
