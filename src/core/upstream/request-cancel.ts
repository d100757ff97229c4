import { EventEmitter } from 'node:events';

/**
 * What undici accepts as a request `signal` besides an AbortSignal: an EventEmitter with
 * `aborted` that emits `abort`. An AbortController per relayed call (an EventTarget, and a
 * DOMException when aborted) was measurable on small API calls (benchmark M3 in docs/performance.md); this is
 * not.
 */
export class RequestCancel extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}
