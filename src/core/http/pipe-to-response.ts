import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Stream `source` into a device's response; resolves when the response is finished, rejects
 * when the source fails or the device goes away first (code ERR_STREAM_PREMATURE_CLOSE, as
 * `stream.pipeline` reports it).
 *
 * Why not `stream/promises.pipeline`: on every completed pipeline Node 20 aborts an internal
 * AbortController, which builds a DOMException with a stack trace — about 5 % of the CPU of
 * a relayed API call in the M3 benchmark (docs/performance.md). `pipe` gives the
 * same back-pressure. The caller destroys `res` on a rejection; `source` is destroyed here.
 */
export function pipeToResponse(source: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      source.off('error', onError);
      res.off('finish', onFinish);
      res.off('close', onClose);
    };
    const onError = (err: Error): void => {
      cleanup();
      source.unpipe(res);
      reject(err);
    };
    const onFinish = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      if (res.writableFinished) {
        resolve();
        return;
      }
      source.unpipe(res);
      source.destroy();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    source.once('error', onError);
    res.once('finish', onFinish);
    res.once('close', onClose);
    source.pipe(res);
  });
}
