// Rendering: turns the API's answers into the page. Text is always set
// with textContent, never parsed as HTML.

import { draw } from './chart.js';

const $ = (id) => document.getElementById(id);

// Formats: a weight (percent), a latency, a rate (a fraction, shown as
// percent), a count (– when unknown), a duration in ms shown in seconds.
export const pct = (v) => `${Number(v.toFixed(2))} %`;
export const ms = (v) => `${Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
export const rate = (v) => `${(v * 100).toFixed(2)} %`;
export const count = (v) => (v === undefined || v === null ? '–' : String(v));
export const secs = (v) => `${(v / 1000).toFixed(1)} s`;

// el builds an element with a class and children (strings become text).
export function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

// showCounts fills the cards from GET /api/v1/status or a metrics event
// (they share weight, sessions and moves).
export function showCounts(m) {
  $('weight').textContent = pct(m.weight);
  for (const k of ['blue', 'green', 'detached', 'standby']) $(`sessions-${k}`).textContent = count(m.sessions[k]);
  for (const k of ['done', 'failed', 'canceled', 'drops']) $(`moves-${k}`).textContent = count(m.moves[k]);
}

// showBackends fills the backends card from GET /api/v1/status.
export function showBackends(backends) {
  const errs = [];
  for (const c of ['blue', 'green']) {
    const b = backends[c];
    const e = $(`up-${c}`);
    e.textContent = !b.known ? 'unknown' : b.up ? 'up' : 'down';
    e.className = !b.known ? '' : b.up ? 'up' : 'down';
    if (b.last_error) errs.push(`${c}: ${b.last_error}`);
  }
  $('backend-error').textContent = errs.join(' · ');
}

// Series keeps the newest points of each backend's windowed health, one
// a second: first the gateway's own series (GET /api/v1/metrics?series=true),
// then one per metrics event of the stream.
export class Series {
  constructor(cap) { this.cap = cap; this.points = []; }

  // seed replaces the points with the API's series ({blue: [...], green:
  // [...]}, oldest first, the same ticks on both).
  seed(series) {
    const blue = (series && series.blue) || [];
    const green = (series && series.green) || [];
    const n = Math.min(Math.max(blue.length, green.length), this.cap);
    const at = (list, i) => list[list.length - n + i] || {};
    this.points = [];
    for (let i = 0; i < n; i++) {
      const b = at(blue, i);
      const g = at(green, i);
      this.points.push({
        errBlue: b.error_rate || 0, errGreen: g.error_rate || 0,
        p95Blue: b.p95_ms || 0, p95Green: g.p95_ms || 0,
        p99Blue: b.p99_ms || 0, p99Green: g.p99_ms || 0,
      });
    }
  }

  add(m) {
    const b = m.backends || {};
    const get = (c, f) => (b[c] ? b[c][f] || 0 : 0);
    this.points.push({
      errBlue: get('blue', 'error_rate'), errGreen: get('green', 'error_rate'),
      p95Blue: get('blue', 'p95_ms'), p95Green: get('green', 'p95_ms'),
      p99Blue: get('blue', 'p99_ms'), p99Green: get('green', 'p99_ms'),
    });
    if (this.points.length > this.cap) this.points.splice(0, this.points.length - this.cap);
  }

  draw() {
    const line = (cls, f) => ({ cls, values: this.points.map((p) => p[f]) });
    draw($('chart-errors'), $('chart-errors-max'), [line('blue', 'errBlue'), line('green', 'errGreen')], this.cap, rate);
    draw($('chart-p95'), $('chart-p95-max'), [line('blue', 'p95Blue'), line('green', 'p95Green')], this.cap, ms);
    draw($('chart-p99'), $('chart-p99-max'), [line('blue', 'p99Blue'), line('green', 'p99Green')], this.cap, ms);
  }
}

// holdLeft is what remains of the step's hold, in ms, or null when no
// hold runs: paused, the status says it; otherwise it runs to hold_until
// once the step is applied. skew is server time minus local time.
export function holdLeft(st, skew, now = Date.now()) {
  if (st.state === 'paused') return st.hold_left_ms || 0;
  if (st.state !== 'shifting' || !st.applied || !st.hold_until) return null;
  return Math.max(0, Date.parse(st.hold_until) - (now + skew));
}

// showRollout fills the rollout facts from a rollout status.
export function showRollout(st, skew) {
  $('rollout-state').textContent = st.state;
  $('rollout-state').dataset.state = st.state;
  $('rollout-step').textContent = st.steps ? `${st.step} of ${st.steps}` : '–';
  let w = pct(st.weight);
  if (st.promoted) w += ' (promoted)';
  if (st.emergency) w += ' (emergency)';
  if (st.steps) w += st.applied ? ', applied' : ', moving';
  $('rollout-weight').textContent = w;
  const left = holdLeft(st, skew);
  $('rollout-hold').textContent = left === null ? '–' : secs(left) + (st.extensions ? ` (extended ${st.extensions}×)` : '');
  $('rollout-elapsed').textContent = st.started_at ? secs(st.elapsed_ms || 0) : '–';
  $('rollout-reason').textContent = st.reason || '–';
}

// showVerdicts lists the verdicts, newest first, the newest open. The
// list is rebuilt only when it changed, so that what the operator opened
// stays open.
export function showVerdicts(verdicts) {
  const box = $('verdicts');
  const key = verdicts.map((v) => `${v.time}/${v.step}/${v.extension}`).join(',');
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  if (verdicts.length === 0) {
    box.replaceChildren(el('p', 'small', 'none yet'));
    return;
  }
  box.replaceChildren(...verdicts.slice().reverse().map((v, i) => verdictView(v, i === 0)));
}

function verdictView(v, open) {
  const d = el('details', 'verdict');
  d.open = open;
  const when = new Date(v.time).toLocaleTimeString();
  d.append(el('summary', '', `step ${v.step} at ${pct(v.weight)}`, v.extension ? ` (extension ${v.extension})` : '',
    ': ', el('b', v.outcome, v.outcome), ` at ${when}`));
  if (v.reasons && v.reasons.length) d.append(el('p', 'small', v.reasons.join('; ')));

  const checks = el('table', '', el('tr', '', el('th', '', 'check'), el('th', '', 'outcome'), el('th', '', 'value'), el('th', '', 'limit'), el('th', '', 'detail')));
  for (const c of v.checks || []) {
    checks.append(el('tr', '', el('td', '', c.name), el('td', c.outcome, c.outcome), el('td', '', num(c.value)), el('td', '', num(c.limit)), el('td', '', c.detail || '')));
  }
  d.append(checks);

  const m = el('table', '', el('tr', '', ...['backend', 'sessions', 'ops', 'errors', 'error rate', 'P50', 'P95', 'P99', 'latency samples'].map((h) => el('th', '', h))));
  for (const c of ['blue', 'green']) {
    const x = v[c];
    if (!x) continue;
    m.append(el('tr', '', el('td', '', c), el('td', '', x.sessions), el('td', '', x.total), el('td', '', x.errors),
      el('td', '', rate(x.error_rate)), el('td', '', x.p50), el('td', '', x.p95), el('td', '', x.p99), el('td', '', x.latency_samples)));
  }
  d.append(m);

  const e = v.error_rate_test;
  if (e) {
    d.append(el('p', 'small', `error rate green − blue ${rate(e.diff)}, ${Math.round(e.confidence * 100)} % CI [${rate(e.ci_low)}, ${rate(e.ci_high)}], margin ${rate(e.margin)}, z ${num(e.z)}, p(greater) ${num(e.p_greater)}`));
  }
  const l = v.latency_test;
  if (l) {
    d.append(el('p', 'small', `P95 green ${ms(l.p95_green_ms)} vs blue ${ms(l.p95_blue_ms)}: diff ${ms(l.p95_diff_ms)}, ${Math.round(l.confidence * 100)} % CI [${ms(l.ci_low_ms)}, ${ms(l.ci_high_ms)}], margin ${ms(l.margin_ms)}; Mann-Whitney p(greater) ${num(l.mann_whitney_p_greater)}`));
  }
  const p = v.preservation;
  if (p && p.moves_tried) {
    d.append(el('p', 'small', `preserved: sockets ${p.sockets_kept}/${p.moves_tried}, subscriptions ${p.subscriptions_kept}/${p.subscriptions_tried}`));
  }
  return d;
}

// num shows a verdict's number: whole or large as is (two decimals at
// most), small with three significant digits.
export function num(v) {
  if (typeof v !== 'number') return '–';
  return Math.abs(v) >= 100 || v === Math.trunc(v) ? String(Math.round(v * 100) / 100) : v.toPrecision(3);
}

// EventLog keeps the newest events, newest on top.
export class EventLog {
  constructor(cap) { this.cap = cap; this.list = $('event-log'); }

  add(text, cls = '') {
    const at = new Date().toLocaleTimeString();
    this.list.prepend(el('li', cls, `${at} ${text}`));
    while (this.list.children.length > this.cap) this.list.lastElementChild.remove();
  }

  // transition logs a transition event as `baton rollout watch` prints it.
  transition(tr) {
    let s = `${tr.kind} ${tr.from} → ${tr.to} step ${tr.step} weight ${pct(tr.weight)}`;
    if (tr.verdict) s += ` verdict ${tr.verdict.outcome} (green err ${rate(tr.verdict.green.error_rate)} p95 ${tr.verdict.green.p95})`;
    if (tr.kind === 'step_applied' || tr.kind === 'rollback_finished') {
      s += ` moved ${tr.moved || 0} failed ${tr.failed || 0} in ${secs(tr.took_ms || 0)}`;
    }
    if (tr.message) s += `: ${tr.message}`;
    const bad = tr.kind === 'gate_failed' || tr.kind === 'rollback_started' || tr.emergency;
    this.add(s, bad ? 'bad' : '');
  }
}
