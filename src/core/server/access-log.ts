import type { Instrumentation } from '../diagnostics.js';
import type { Logger } from '../logger.js';
import { accessLogger } from '../logger.js';
import { loggablePath } from '../http/loggable-path.js';

/** Mender Gateway logs 4xx at warning level and 5xx at error level (docs/protocol.md). */
function levelFor(status: number): 'info' | 'warn' | 'error' {
  if (status >= 500) return 'error';
  return status >= 400 ? 'warn' : 'info';
}

/**
 * One access line per exchange: listener, request id, method, path (see {@link loggablePath}), status, body bytes, duration, device address, and
 * what failed. Returns the unsubscribe function.
 */
export function subscribeAccessLog(instrumentation: Instrumentation, logger: Logger): () => void {
  const access = accessLogger(logger);
  return instrumentation.on('exchangeEnd', ({ exchange }) => {
    const { req, res } = exchange;
    const status = exchange.status;
    const error = exchange.error;
    access[levelFor(status)](
      {
        listener: exchange.listener,
        requestId: exchange.id,
        method: req.method,
        path: loggablePath(req.url ?? '/'),
        status,
        bytes: exchange.bytesOut,
        durationMs: Number(process.hrtime.bigint() - exchange.startedAt) / 1e6,
        ip: exchange.clientIp,
        ...(exchange.statusOverride !== undefined || res.writableFinished ? {} : { aborted: true }),
        ...(error === undefined ? {} : { error: error.message }),
      },
      'request',
    );
  });
}
