import { median } from '../support/stats.js';

/**
 * Whether a soak's resource samples stayed flat ("memory and open file
 * descriptors flat"). The first rounds are warm-up (V8 grows its heap to a working size, undici
 * opens its pool, the cache index fills); after them, the last third of the run is compared with
 * the first third. A leak of one socket or a few KiB per device cycle shows up as a steady rise
 * over a ten-minute run; noise does not move a median by that much.
 */
export interface SoakSample {
  round: number;
  /** Resident set of the gateway after the round, bytes (VmRSS). */
  rssBytes: number;
  /** Open file descriptors of the gateway after the round (`/proc/<pid>/fd`). */
  fds: number;
}

export interface SoakVerdict {
  flat: boolean;
  /** Why it is not flat, or why there were too few samples to say; empty when flat. */
  reasons: string[];
  rssFirstMiB: number;
  rssLastMiB: number;
  fdsFirstMax: number;
  fdsLastMax: number;
}

/** RSS may rise by this much (or this fraction, whichever is larger) between the thirds. */
export const RSS_SLACK_BYTES = 16 * 2 ** 20;
export const RSS_SLACK_FRACTION = 0.1;
/** Descriptors may differ by this many (a keep-alive connection to upstream more or less). */
export const FD_SLACK = 4;
export const WARM_UP_ROUNDS = 2;
/** Fewer samples than this after warm-up: not enough to call anything flat. */
export const MIN_SAMPLES = 3;

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

export function judgeSoak(samples: SoakSample[]): SoakVerdict {
  const steady = samples.slice(WARM_UP_ROUNDS);
  if (steady.length < MIN_SAMPLES) {
    return {
      flat: false,
      reasons: [
        `only ${steady.length} round(s) after ${WARM_UP_ROUNDS} warm-up round(s); run longer (need ${MIN_SAMPLES})`,
      ],
      rssFirstMiB: 0,
      rssLastMiB: 0,
      fdsFirstMax: 0,
      fdsLastMax: 0,
    };
  }
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const rssFirst = median(first.map((s) => s.rssBytes));
  const rssLast = median(last.map((s) => s.rssBytes));
  const fdsFirst = Math.max(...first.map((s) => s.fds));
  const fdsLast = Math.max(...last.map((s) => s.fds));
  const reasons: string[] = [];
  const allowed = Math.max(RSS_SLACK_BYTES, rssFirst * RSS_SLACK_FRACTION);
  if (rssLast - rssFirst > allowed)
    reasons.push(`RSS grew from ${mib(rssFirst)} MiB to ${mib(rssLast)} MiB (allowed +${mib(allowed)} MiB)`);
  if (fdsLast - fdsFirst > FD_SLACK)
    reasons.push(`open descriptors grew from ${fdsFirst} to ${fdsLast} (allowed +${FD_SLACK})`);
  return {
    flat: reasons.length === 0,
    reasons,
    rssFirstMiB: mib(rssFirst),
    rssLastMiB: mib(rssLast),
    fdsFirstMax: fdsFirst,
    fdsLastMax: fdsLast,
  };
}
