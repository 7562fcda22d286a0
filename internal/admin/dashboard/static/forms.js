// What the control forms send for what was typed. Values go as typed
// where they do not parse: the API says what is wrong with them.

// A decimal number, as JSON and the config write one (Number() alone
// would also take 0x32 for 50).
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

// number returns s as a number when it is a finite decimal number, else s.
export function number(s) {
  return DECIMAL.test(s) && Number.isFinite(Number(s)) ? Number(s) : s;
}

// startBody is the body of POST /api/v1/rollout/start: only what was
// filled in overrides the configured plan. Steps are separated by commas
// or spaces.
export function startBody(steps, hold, allowDecrease) {
  const body = {};
  const s = steps.trim();
  if (s) body.steps = s.split(/[\s,]+/).filter(Boolean).map(number);
  const h = hold.trim();
  if (h) body.hold = h;
  if (allowDecrease) body.allow_decrease = true;
  return body;
}

// weightValue is the weight of PUT /api/v1/weight, in percent; a
// trailing "%" is allowed.
export function weightValue(raw) {
  return number(raw.trim().replace(/%$/, '').trimEnd());
}

// fieldInput is the id of the input an API error's field names
// ("steps[2]" is the steps input), or '' for none.
export function fieldInput(field) {
  return { weight: 'weight-input', hold: 'start-hold', steps: 'start-steps', allow_decrease: 'start-allow-decrease' }[field.replace(/\[.*$/, '')] || '';
}
