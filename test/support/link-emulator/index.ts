export { startLinkEmulator } from './link-emulator.js';
export type { LinkEmulator, LinkOptions, LinkStats } from './link-emulator.js';
export { ManualClock, realClock } from './clock.js';
export type { Clock } from './clock.js';
