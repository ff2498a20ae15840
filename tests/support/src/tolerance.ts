/** The comparisons of numerical tests against a reference, in one place. */

/** max |v| over all entries. */
export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

/** max |a - b| over all entries; Infinity when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/**
 * max |a - b| / scale, scale = max |b| (the reference's) unless given: relative to the result's scale,
 * so near-zero entries do not blow it up. A tensor that is zero in exact arithmetic (a conv bias before
 * BatchNorm has a zero gradient) is compared at the scale of its neighbours by passing `scale`. An
 * all-zero reference gives the absolute difference; different lengths give Infinity.
 */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, scale = maxAbs(b)): number {
  const diff = maxAbsDiff(a, b);
  return scale === 0 ? diff : diff / scale;
}

/** Standard deviation of the values: a proof on an all-constant output would prove nothing. */
export function spread(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i]! / values.length;
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += (values[i]! - mean) ** 2 / values.length;
  return Math.sqrt(variance);
}
