// The retry policy, pure: no clock, no disk. delay(n) = min(base^n s, max), jitter 50-100% of it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BackoffPolicy, decideAfterFailure, retryDelayMs } from '../src/backoff.js';

const BASE2: BackoffPolicy = { base: 2, maxMs: 3_600_000, jitter: false };
const NOW = Date.parse('2026-03-01T12:00:00.000Z');

describe('retryDelayMs', () => {
  test('base 2 gives the documented table: 2s, 4s, 8s, 16s, ...', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 10].map((n) => retryDelayMs(n, BASE2)), [2_000, 4_000, 8_000, 16_000, 32_000, 1_024_000]);
  });

  test('a fractional base is rounded to whole milliseconds', () => {
    const p = { ...BASE2, base: 1.5 };
    assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(n, p)), [1_500, 2_250, 3_375]);
    assert.equal(retryDelayMs(4, p), 5_063, '1.5^4 = 5.0625 s');
  });

  test('base 1 waits one second every time', () => {
    const p = { ...BASE2, base: 1 };
    assert.deepEqual([1, 2, 7, 50].map((n) => retryDelayMs(n, p)), [1_000, 1_000, 1_000, 1_000]);
  });

  test('backoff-max caps the delay', () => {
    const p = { ...BASE2, maxMs: 10_000 };
    assert.deepEqual([1, 2, 3, 4, 30, 100].map((n) => retryDelayMs(n, p)), [2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    assert.equal(retryDelayMs(3, { ...BASE2, maxMs: 0 }), 0);
  });

  test('huge exponents do not overflow past the cap', () => {
    assert.equal(retryDelayMs(100, { base: 100, maxMs: 3_600_000, jitter: false }), 3_600_000);
  });

  test('jitter spreads the delay over 50-100% of it, from the random source it is given', () => {
    const p = { ...BASE2, jitter: true };
    assert.equal(retryDelayMs(2, p, () => 0), 2_000);
    assert.equal(retryDelayMs(2, p, () => 0.5), 3_000);
    assert.equal(retryDelayMs(2, p, () => 0.999999), 4_000);
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(3, p);
      assert.ok(d >= 4_000 && d <= 8_000, `${d} within 50-100% of 8000`);
    }
  });

  test('jitter applies after the cap', () => {
    assert.equal(retryDelayMs(20, { base: 2, maxMs: 10_000, jitter: true }, () => 0), 5_000);
  });

  test('without jitter the random source is not used', () => {
    assert.equal(retryDelayMs(1, BASE2, () => {
      throw new Error('random called');
    }), 2_000);
  });
});

describe('decideAfterFailure', () => {
  test('max_retries 2: the first two failures retry after 2s then 4s, the third is dead', () => {
    assert.deepEqual(decideAfterFailure(1, 2, NOW, BASE2), { to: 'pending', availableAt: NOW + 2_000, delayMs: 2_000 });
    assert.deepEqual(decideAfterFailure(2, 2, NOW, BASE2), { to: 'pending', availableAt: NOW + 4_000, delayMs: 4_000 });
    assert.deepEqual(decideAfterFailure(3, 2, NOW, BASE2), { to: 'dead' });
  });

  test('max_retries 0: the first failure is final', () => {
    assert.deepEqual(decideAfterFailure(1, 0, NOW, BASE2), { to: 'dead' });
  });

  test('attempts beyond max_retries stay dead (a job recovered after its runs were used up)', () => {
    assert.deepEqual(decideAfterFailure(9, 3, NOW, BASE2), { to: 'dead' });
  });

  test('the retry time is `now` plus the delay, jittered with the random source given', () => {
    const r = decideAfterFailure(1, 5, NOW, { base: 2, maxMs: 60_000, jitter: true }, () => 0);
    assert.deepEqual(r, { to: 'pending', availableAt: NOW + 1_000, delayMs: 1_000 });
  });
});
