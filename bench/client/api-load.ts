/**
 * Fallback load generator for M3 when wrk is not installed: an undici Pool with `connections`
 * keep-alive connections, each sending requests back to back for `durationMs`. Run as its own
 * process. Prints `{ requests, errors, seconds, latenciesMs: number[] (sampled) }`.
 */
import { Pool } from 'undici';

interface ApiLoadSpec {
  url: string;
  connections: number;
  durationMs: number;
  request?: { method: 'GET' | 'POST' | 'PUT'; body?: string; contentType?: string };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as ApiLoadSpec;
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, {
    connections: spec.connections,
    pipelining: 1,
    connect: { rejectUnauthorized: false },
  });
  const path = `${url.pathname}${url.search}`;
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + spec.durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const start = performance.now();
      try {
        const res = await pool.request({
          method: spec.request?.method ?? 'GET',
          path,
          body: spec.request?.body ?? null,
          headers:
            spec.request?.contentType === undefined ? {} : { 'content-type': spec.request.contentType },
        });
        await res.body.dump();
        if (res.statusCode >= 400) errors++;
      } catch {
        errors++;
      }
      requests++;
      if (latencies.length < 200_000) latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await pool.close();
  process.stdout.write(JSON.stringify({ requests, errors, seconds, latenciesMs: latencies }));
}

await main();
