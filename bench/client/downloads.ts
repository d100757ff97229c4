/**
 * Load-generator process for downloads (M1, M2, M4, M5). Run as its own process so that its
 * CPU never counts as the server's: `node --import tsx bench/client/downloads.ts '<json>'`.
 * Every request opens its own TLS connection (as devices do) and starts at t0 + delayMs.
 * Prints one JSON document: `{ results: DownloadResult[], clientCpuSeconds }`.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';

export interface DownloadSpec {
  url: string;
  headers?: Record<string, string>;
  delayMs?: number;
  hash?: boolean;
  /** Read at most this many bytes per second (a slow device). */
  rateBytesPerSec?: number;
  /** Close the connection after this many body bytes. */
  maxBytes?: number;
  label?: string;
}

export interface DownloadResult {
  label: string | undefined;
  status: number;
  contentRange: string | undefined;
  bytes: number;
  sha256: string | undefined;
  /** ms from t0 to the request being sent, to the first body byte, to the end. */
  startMs: number;
  firstByteMs: number;
  endMs: number;
  error: string | undefined;
}

function run(spec: DownloadSpec, t0: number): Promise<DownloadResult> {
  return new Promise((resolve) => {
    const url = new URL(spec.url);
    const startMs = performance.now() - t0;
    let firstByteMs = Number.NaN;
    let bytes = 0;
    let hash: Hash | undefined = spec.hash === true ? createHash('sha256') : undefined;
    let done = false;
    const finish = (status: number, contentRange: string | undefined, error?: string): void => {
      if (done) return;
      done = true;
      const endMs = performance.now() - t0;
      resolve({
        label: spec.label,
        status,
        contentRange,
        bytes,
        sha256: hash?.digest('hex'),
        startMs,
        firstByteMs: Number.isNaN(firstByteMs) ? endMs : firstByteMs,
        endMs,
        error,
      });
      hash = undefined;
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method: 'GET', headers: spec.headers ?? {}, agent: false, rejectUnauthorized: false },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentRange = res.headers['content-range'];
        const began = performance.now();
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) firstByteMs = performance.now() - t0;
          bytes += chunk.length;
          hash?.update(chunk);
          if (spec.maxBytes !== undefined && bytes >= spec.maxBytes) {
            finish(status, contentRange);
            req.destroy();
            return;
          }
          if (spec.rateBytesPerSec !== undefined) {
            const due = (bytes / spec.rateBytesPerSec) * 1000 - (performance.now() - began);
            if (due > 0) {
              res.pause();
              setTimeout(() => res.resume(), due);
            }
          }
        });
        res.on('end', () => finish(status, contentRange));
        res.on('error', (err) => finish(status, contentRange, err.message));
        res.on('close', () => finish(status, contentRange, res.complete ? undefined : 'closed before end'));
      },
    );
    req.on('error', (err) => finish(0, undefined, err.message));
    req.end();
  });
}

async function main(): Promise<void> {
  const specs = JSON.parse(process.argv[2] ?? '[]') as DownloadSpec[];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const results = await Promise.all(
    specs.map(
      (spec) =>
        new Promise<DownloadResult>((resolve) => {
          setTimeout(() => void run(spec, t0).then(resolve), spec.delayMs ?? 0);
        }),
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ results, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 }));
}

await main();
