import { percentile } from './stats.js';

/** Distribution of one latency, in milliseconds (p50/p99 are what the targets name). */
export interface LatencySummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles (test/support/stats.ts, as the benchmarks report them), rounded to 0.1 ms. */
export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 10) / 10;
  const rank = (p: number): number => round(percentile(sorted, p));
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: rank(0),
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
    max: rank(100),
    mean: sorted.length === 0 ? Number.NaN : round(sum / sorted.length),
  };
}
