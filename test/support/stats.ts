export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/** Median of every numeric field over the repetitions. */
export function medianOf<T extends Record<string, number>>(reps: T[]): T {
  const out: Record<string, number> = {};
  const keys = reps[0] === undefined ? [] : Object.keys(reps[0]);
  for (const key of keys) out[key] = median(reps.map((r) => r[key]!));
  return out as T;
}

/** mender-gw ÷ nginx for every field both have. */
export function ratios(
  gw: Record<string, number> | undefined,
  nginx: Record<string, number> | undefined,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (gw === undefined || nginx === undefined) return out;
  for (const [key, value] of Object.entries(gw)) {
    const base = nginx[key];
    if (base !== undefined && base !== 0 && Number.isFinite(base)) out[key] = value / base;
  }
  return out;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
