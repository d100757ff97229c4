import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startLoopbackServer } from '../support/loopback-server.js';
import type { LoopbackServer } from '../support/loopback-server.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';

const MiB = 1024 * 1024;

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** An upstream that sends half of a body, then holds the rest until the test releases it. */
async function heldUpstream(): Promise<{
  server: LoopbackServer;
  release: () => void;
  firstHalfSent: Promise<void>;
}> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let firstHalf!: () => void;
  const firstHalfSent = new Promise<void>((resolve) => (firstHalf = resolve));
  const server = await startLoopbackServer((_req, res) => {
    res.writeHead(200, { 'content-length': 4 * MiB });
    res.write(Buffer.alloc(2 * MiB, 1), () => firstHalf());
    void released.then(() => res.end(Buffer.alloc(2 * MiB, 2)));
  });
  return { server, release, firstHalfSent };
}

describe('graceful shutdown of serve', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function start(upstreamUrl: string, extra: Record<string, unknown> = {}): Promise<ServeProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'mgw-shutdown-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const conf = join(dir, 'mender-gateway.conf');
    await writeFile(
      conf,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: upstreamUrl },
        ...extra,
      }),
    );
    const serve = await startServeProcess(conf);
    cleanup.push(() => serve.stop('SIGKILL'));
    return serve;
  }

  it('on SIGTERM stops accepting, lets the transfer in flight finish, and exits 0', async () => {
    const upstream = await heldUpstream();
    cleanup.push(() => upstream.server.close());
    const serve = await start(upstream.server.url);
    const port = Number(new URL(serve.urls.http!).port);

    const res = await request(`${serve.urls.http!}/api/devices/v1/deployments/device/deployments/d/log`);
    expect(res.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const chunk of res.body) chunks.push(chunk as Buffer);
    })();
    await upstream.firstHalfSent;

    void serve.stop('SIGTERM');
    await serve.logs.waitFor((l) => l.msg === 'shutting down');
    expect(await connectionRefused(port)).toBe(true);

    upstream.release();
    await done;
    const body = Buffer.concat(chunks);
    expect(body.length).toBe(4 * MiB);
    expect(body[0]).toBe(1);
    expect(body[body.length - 1]).toBe(2);
    expect(await serve.exited).toBe(0);
  });

  it('cuts transfers still running after ShutdownGracePeriod and still exits 0', async () => {
    const upstream = await heldUpstream();
    cleanup.push(() => upstream.server.close());
    const serve = await start(upstream.server.url, { ShutdownGracePeriod: '300ms' });

    const res = await request(`${serve.urls.http!}/api/devices/v1/held`);
    const done = (async () => {
      let bytes = 0;
      try {
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
        return { bytes, error: undefined };
      } catch (err) {
        return { bytes, error: err as Error };
      }
    })();
    await upstream.firstHalfSent;
    void serve.stop('SIGTERM');
    expect(await serve.exited).toBe(0);
    const result = await done;
    // The device sees a broken transfer (and will resume), never a short body taken as complete.
    expect(result.error).toBeDefined();
    expect(result.bytes).toBeLessThan(4 * MiB);
    await serve.logs.waitFor((l) => l.msg === 'grace period over: cutting unfinished transfers');
    upstream.release();
  });
});
