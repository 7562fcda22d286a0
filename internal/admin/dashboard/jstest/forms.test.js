// What the control forms send for what was typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldInput, startBody, weightValue } from '../static/forms.js';

test('startBody: nothing filled in starts the configured plan', () => {
  assert.deepEqual(startBody('', '  ', false), {});
});

test('startBody: steps split on commas and spaces, as numbers', () => {
  assert.deepEqual(startBody(' 10, 25,50 100 ', '', false), { steps: [10, 25, 50, 100] });
  assert.deepEqual(startBody('10,,25,', '', false), { steps: [10, 25] });
  assert.deepEqual(startBody('0.5 12.25', '', false), { steps: [0.5, 12.25] });
});

test('startBody: a step that is not a number goes as typed, for the API to refuse', () => {
  assert.deepEqual(startBody('10,abc,50', '', false), { steps: [10, 'abc', 50] });
  assert.deepEqual(startBody('Infinity', '', false), { steps: ['Infinity'] });
});

test('startBody: hold as typed, trimmed; allow_decrease only when checked', () => {
  assert.deepEqual(startBody('', ' 30s ', true), { hold: '30s', allow_decrease: true });
  assert.deepEqual(startBody('50', '1m', false), { steps: [50], hold: '1m' });
});

test('weightValue: a number, with or without a %', () => {
  assert.equal(weightValue('25'), 25);
  assert.equal(weightValue(' 12.5 '), 12.5);
  assert.equal(weightValue('50%'), 50);
  assert.equal(weightValue('50 %'), 50);
  assert.equal(weightValue('0'), 0);
});

test('weightValue: what is not a number goes as typed, for the API to refuse', () => {
  assert.equal(weightValue(''), '');
  assert.equal(weightValue('   '), '');
  assert.equal(weightValue('half'), 'half');
  assert.equal(weightValue('1e999'), '1e999'); // not Infinity, which JSON would send as null
});

test('fieldInput: the input an API error names', () => {
  assert.equal(fieldInput('weight'), 'weight-input');
  assert.equal(fieldInput('hold'), 'start-hold');
  assert.equal(fieldInput('steps'), 'start-steps');
  assert.equal(fieldInput('steps[2]'), 'start-steps');
  assert.equal(fieldInput('allow_decrease'), 'start-allow-decrease');
  assert.equal(fieldInput('thresholds.max_p95'), '');
  assert.equal(fieldInput(''), '');
});

test('only decimal numbers are numbers: 0x32 is not 50 (a typo must not move half the users)', () => {
  assert.equal(weightValue('0x32'), '0x32');
  assert.equal(weightValue('0b11'), '0b11');
  assert.equal(weightValue('0o17'), '0o17');
  assert.deepEqual(startBody('0x10, 0b1', '', false), { steps: ['0x10', '0b1'] });
  // Decimal forms all stay numbers.
  assert.equal(weightValue('+5'), 5);
  assert.equal(weightValue('.5'), 0.5);
  assert.equal(weightValue('5.'), 5);
  assert.equal(weightValue('1e1'), 10);
  assert.equal(weightValue('007'), 7);
});
