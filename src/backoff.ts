// Retry policy: pure functions, no clock reads and no I/O.
//
//   delay(n) = min(backoff-base ^ n seconds, backoff-max)     n = attempts so far (1 after the first run)
//   with backoff-jitter: delay(n) * (0.5 + random * 0.5)
//
// max_retries counts retries after the first run: a job with max_retries 2 runs at most 3 times.

export interface BackoffPolicy {
  base: number;
  maxMs: number;
  jitter: boolean;
}

/** Milliseconds to wait before the retry that follows attempt number `attempts` (1-based). */
export function retryDelayMs(attempts: number, policy: BackoffPolicy, random = Math.random): number {
  const raw = Math.min(policy.base ** attempts * 1000, policy.maxMs);
  const delay = policy.jitter ? raw * (0.5 + random() * 0.5) : raw;
  return Math.max(0, Math.round(delay));
}

export type AfterFailure = { to: 'pending'; availableAt: number; delayMs: number } | { to: 'dead' };

/** Where a job goes after a failed attempt: back to pending/ after a delay, or to dead/. */
export function decideAfterFailure(attempts: number, maxRetries: number, now: number, policy: BackoffPolicy, random = Math.random): AfterFailure {
  if (attempts > maxRetries) return { to: 'dead' };
  const delayMs = retryDelayMs(attempts, policy, random);
  return { to: 'pending', availableAt: now + delayMs, delayMs };
}
