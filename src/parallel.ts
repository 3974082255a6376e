// Runs async work over a list with a bounded number in flight: a batch issues its fsyncs together
// (a group commit) without opening thousands of files at once.

/** Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed: { error: unknown } | null = null;
  const lane = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed) throw (failed as { error: unknown }).error;
  return results;
}

/** Like mapLimit but never throws: each result says whether its call succeeded. */
export async function settleLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  return mapLimit(items, limit, (item, i) => fn(item, i).then(
    (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
    (reason): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
  ));
}
