import type { Readable } from 'node:stream';

/**
 * Drop a response body the gateway will not read (a redirect, a range it does not want, a HEAD).
 * undici's BodyReadable turns a plain `destroy()` of an unfinished body into an `error` event
 * ("Request aborted"); with no listener that is an uncaught exception that would stop the whole
 * gateway (found by the storage-redirect tests). The listener makes it harmless.
 */
export function discardBody(body: Readable): void {
  body.on('error', ignore);
  body.destroy();
}

function ignore(): void {
  // The body was discarded on purpose; its abort is not news.
}
