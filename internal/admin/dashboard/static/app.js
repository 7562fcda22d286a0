// Baton dashboard: the token form, the live view and the controls.
//
// Data comes from the admin API only: GET /api/v1/status, /rollout and
// /metrics?series=true (with the recent health per second, for the charts)
// once at connect, then the event stream (GET /api/v1/events):
// its `status` event first, a `metrics` event every second (weight,
// sessions, moves, per-backend health, the rollout without its verdict
// list) and a `transition` event per controller transition. The status is
// re-read every few seconds for the backends' up/down, which the stream
// does not carry. The stream is understood as `baton rollout watch`
// understands it.

import { APIError, call, token } from './api.js';
import { fieldInput, startBody, weightValue } from './forms.js';
import { follow } from './stream.js';
import { EventLog, Series, pct, showBackends, showCounts, showRollout, showVerdicts } from './view.js';

const $ = (id) => document.getElementById(id);

const SERIES_POINTS = 300; // 5 minutes of metrics events
const LOG_EVENTS = 200;
const STATUS_EVERY = 3000;

const series = new Series(SERIES_POINTS);
const log = new EventLog(LOG_EVENTS);

// The view's state: the rollout status as last known, and the server's
// clock offset (hold_until is the server's time).
let rollout = null;
let skew = 0;
let stopStream = null;
let timers = [];
let refetch = 0;

// A CSP violation is a bug of the page: make it loud in the console.
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
});

// ---- token and connection --------------------------------------------

function showLogin(message) {
  disconnect();
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  setConn('off', 'not connected');
  $('token').focus();
}

// unauthorized forgets the token and asks again.
function unauthorized() {
  token.clear();
  showLogin('The token was refused (401): enter the admin token again (admin.token in the gateway config).');
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  token.set(t);
  $('token').value = '';
  connect();
});

$('logout').addEventListener('click', () => {
  token.clear();
  showLogin('');
});

async function connect() {
  try {
    const [st, ro, mt] = await Promise.all([
      call('GET', '/api/v1/status'),
      call('GET', '/api/v1/rollout').catch((err) => {
        if (err instanceof APIError && err.status === 503) return null; // no controller
        throw err;
      }),
      call('GET', '/api/v1/metrics?series=true'),
    ]);
    $('login').hidden = true;
    $('main').hidden = false;
    $('logout').hidden = false;
    $('login-error').hidden = true;
    showCounts(st);
    showBackends(st.backends);
    series.seed(mt.series); // the charts start with the last minutes
    onMetrics(mt);
    if (ro) setRollout(ro);
    startStream();
    timers.push(setInterval(pollStatus, STATUS_EVERY));
    timers.push(setInterval(() => rollout && showRollout(rollout, skew), 1000)); // the hold counts down
  } catch (err) {
    if (err instanceof APIError && err.status === 401) return unauthorized();
    showLogin(`Cannot reach the admin API: ${err.message}`);
  }
}

function disconnect() {
  if (stopStream) stopStream();
  stopStream = null;
  timers.forEach(clearInterval);
  timers = [];
  clearTimeout(refetch); // it would ask with no token
}

function setConn(state, text) {
  const c = $('conn');
  c.dataset.state = state;
  c.textContent = text;
}

function startStream() {
  let wasLive = false;
  stopStream = follow({
    onEvent,
    onState: (state, detail) => {
      if (state === 'live') {
        setConn('live', 'live');
        log.add(wasLive ? 'event stream reconnected' : 'event stream connected', 'note');
        wasLive = true;
      } else if (state === 'reconnecting') {
        setConn('reconnecting', `reconnecting… ${detail}`);
      } else {
        setConn(state, `${state}…`);
      }
    },
    onFatal: (err) => {
      if (err instanceof APIError && err.status === 401) return unauthorized();
      setConn('failed', `event stream stopped: ${err.message}`);
      log.add(`event stream stopped: ${err.message}`, 'bad');
    },
  });
}

async function pollStatus() {
  try {
    const st = await call('GET', '/api/v1/status');
    showBackends(st.backends);
  } catch (err) {
    if (err instanceof APIError && err.status === 401) unauthorized();
    // Anything else: the stream's state already says the gateway is away.
  }
}

// ---- the stream ------------------------------------------------------

function onEvent(ev) {
  switch (ev.name) {
    case 'status':
      setRollout(ev.data);
      break;
    case 'metrics':
      onMetrics(ev.data);
      break;
    case 'transition': {
      const tr = ev.data;
      log.transition(tr);
      if (rollout) {
        // As `rollout watch` does: the transition carries the state it ends in.
        rollout.state = tr.to;
        rollout.step = tr.step;
        rollout.weight = tr.weight;
        if (tr.kind === 'step_applied') rollout.applied = true;
        else if (tr.kind === 'step_started' || tr.kind === 'promoted' || tr.kind === 'rollback_started') rollout.applied = false;
        showRollout(rollout, skew);
      }
      scheduleRefetch(); // the full status: hold, verdicts with their numbers
      break;
    }
    case 'dropped':
      log.add(`${ev.data.dropped} transitions lost on this stream (the page was behind); re-reading the rollout`, 'bad');
      scheduleRefetch();
      break;
    case 'shutdown':
      log.add('the gateway is stopping', 'bad');
      break;
  }
}

function onMetrics(m) {
  if (m.at) skew = Date.parse(m.at) - Date.now();
  showCounts(m);
  series.add(m);
  series.draw();
  if (m.rollout) {
    // The tick's rollout has no verdict list: keep the one we have.
    const verdicts = rollout ? rollout.verdicts : [];
    const last = rollout ? rollout.last_verdict : undefined;
    rollout = { ...m.rollout, verdicts, last_verdict: m.rollout.last_verdict || last };
    showRollout(rollout, skew);
  }
}

function setRollout(st) {
  rollout = st;
  showRollout(st, skew);
  showVerdicts(st.verdicts || []);
}

// scheduleRefetch re-reads GET /api/v1/rollout once a burst of
// transitions has passed.
function scheduleRefetch() {
  clearTimeout(refetch);
  refetch = setTimeout(async () => {
    try {
      setRollout(await call('GET', '/api/v1/rollout'));
    } catch (err) {
      if (err instanceof APIError && err.status === 401) unauthorized();
    }
  }, 150);
}

// ---- controls --------------------------------------------------------

// run calls the API for a control and shows the outcome: the API's error
// message (with its field and state) or what was done.
async function run(label, method, path, body, done) {
  const err = $('api-error');
  const ok = $('api-ok');
  document.querySelectorAll('input.invalid').forEach((i) => i.classList.remove('invalid'));
  try {
    const res = await call(method, path, body);
    err.hidden = true;
    ok.hidden = false;
    ok.textContent = `${label}: ${done(res)}`;
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return unauthorized();
    let text = `${label} failed: ${e.message}`;
    if (e instanceof APIError) {
      text = `${label} failed (${e.status}): ${e.message}`;
      if (e.field) text += ` [field: ${e.field}]`;
      if (e.state) text += ` [state: ${e.state}]`;
      markField(e.field);
    }
    ok.hidden = true;
    err.hidden = false;
    err.textContent = text;
  }
}

// markField outlines the input a 400's field names.
function markField(field) {
  const input = fieldInput(field);
  if (input) $(input).classList.add('invalid');
}

const rolloutDone = (st) => {
  setRollout(st);
  return `the rollout is ${st.state}`;
};

$('start-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const body = startBody($('start-steps').value, $('start-hold').value, $('start-allow-decrease').checked);
  run('start', 'POST', '/api/v1/rollout/start', body, rolloutDone);
});

for (const b of document.querySelectorAll('button[data-command]')) {
  b.addEventListener('click', () => {
    const cmd = b.dataset.command;
    if (cmd === 'emergency-rollback' &&
        !window.confirm('Emergency rollback: move every user back to blue now, at full speed, without pacing?')) return;
    run(cmd, 'POST', `/api/v1/rollout/${cmd}`, undefined, rolloutDone);
  });
}

$('weight-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const weight = weightValue($('weight-input').value);
  run('set weight', 'PUT', '/api/v1/weight', { weight }, (r) => {
    pollStatus();
    return `weight ${pct(r.weight)}, moved ${r.moved}, failed ${r.failed}`;
  });
});

// ---- start -----------------------------------------------------------

if (token.get()) connect();
else showLogin('');
