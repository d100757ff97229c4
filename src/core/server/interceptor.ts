import type { Exchange } from './exchange.js';

/**
 * One step of the request pipeline: `matches` decides from the exchange alone (method, path,
 * listener, certificate, upgrade) whether this step takes part; `handle` answers, or calls
 * `next()` to hand the exchange on (a guard that lets it pass). Shaped like undici's
 * interceptors (https://github.com/nodejs/undici/blob/main/docs/docs/api/Dispatcher.md), so each
 * step is testable on its own with a fake exchange.
 */
export interface Interceptor {
  /** For logs and tests. */
  readonly name: string;
  matches(exchange: Exchange): boolean;
  handle(exchange: Exchange, next: () => Promise<void>): Promise<void>;
}

/** Run `exchange` through the first matching interceptor of `chain`, from position `from`. */
export function runPipeline(chain: readonly Interceptor[], exchange: Exchange, from = 0): Promise<void> {
  for (let i = from; i < chain.length; i++) {
    const step = chain[i];
    if (step?.matches(exchange) === true)
      return step.handle(exchange, () => runPipeline(chain, exchange, i + 1));
  }
  return Promise.resolve();
}
