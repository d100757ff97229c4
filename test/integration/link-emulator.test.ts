import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, startLinkEmulator } from '../support/link-emulator/index.js';
import type { LinkEmulator } from '../support/link-emulator/index.js';
import { waitUntil } from '../support/wait-until.js';

/** An echo server on loopback: what arrives goes back. */
async function echoServer(): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** What a client socket received; a reset is an expected outcome here, not a failure. */
function collect(socket: Socket): { bytes: () => number; ended: Promise<void>; closed: Promise<void> } {
  let bytes = 0;
  socket.on('data', (c: Buffer) => (bytes += c.length));
  socket.on('error', () => undefined);
  return {
    bytes: () => bytes,
    ended: new Promise((resolve) => socket.once('end', () => resolve())),
    closed: new Promise((resolve) => socket.once('close', () => resolve())),
  };
}

/**
 * The link emulator the bad-link tests stand on (test/support/link-emulator): its rate, delay,
 * cuts and outages on a manual clock, so every expectation is exact and nothing waits for time.
 */
describe('link emulator', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0)) await fn();
  });

  async function start(
    options: Omit<Parameters<typeof startLinkEmulator>[0], 'target'>,
    server: () => Promise<Server> = echoServer,
  ): Promise<LinkEmulator> {
    const echo = await server();
    const link = await startLinkEmulator({
      ...options,
      target: { host: '127.0.0.1', port: (echo.address() as AddressInfo).port },
    });
    cleanup.push(async () => {
      await link.close();
      echo.close();
    });
    return link;
  }

  it('delivers at the configured rate plus half the round trip per direction, shared by every connection', async () => {
    const clock = new ManualClock();
    // 8,000 bytes/s (64 kbit/s), 600 ms round trip: a ship's satellite link.
    const link = await start({ clock, bytesPerSecond: 8_000, latencyMs: 600 });
    const a = connect(link.port, link.host);
    const b = connect(link.port, link.host);
    const got = [collect(a), collect(b)];
    a.write(Buffer.alloc(8_000));
    b.write(Buffer.alloc(8_000));
    await waitUntil('both writes taken in by the link', () => link.stats.received.toTarget === 16_000);
    // 16,000 bytes share one 8,000 bytes/s direction: the last one leaves at 2 s and lands 300 ms later.
    clock.advance(2_299);
    expect(link.stats.delivered.toTarget).toBeLessThan(16_000);
    clock.advance(1);
    expect(link.stats.delivered.toTarget).toBe(16_000);
    // The echo comes back through the other direction, as slowly.
    await waitUntil('the echo taken in', () => link.stats.received.toClient === 16_000);
    clock.advance(2_300);
    expect(link.stats.delivered.toClient).toBe(16_000);
    await waitUntil('both clients got their bytes back', () => got.every((g) => g.bytes() === 8_000));
    a.destroy();
    b.destroy();
  });

  it('passes bytes and a FIN through unchanged with no limits', async () => {
    const link = await start({});
    const socket = connect(link.port, link.host);
    const got = collect(socket);
    socket.end(Buffer.from('hello'));
    await got.ended;
    expect(got.bytes()).toBe(5);
  });

  it('resets every open connection at the cut interval', async () => {
    const clock = new ManualClock();
    const link = await start({ clock, cutEveryMs: 20_000 });
    const socket = connect(link.port, link.host);
    const got = collect(socket);
    await waitUntil('the link holds the connection', () => link.stats.connections === 1);
    clock.advance(19_999);
    expect(link.stats.cuts).toBe(0);
    clock.advance(1);
    await got.closed;
    expect(link.stats.cuts).toBe(1);
  });

  it('goes down (reset or blackhole) and comes back', async () => {
    const link = await start({});
    link.outage('reset');
    const refused = connect(link.port, link.host);
    const r = collect(refused);
    await r.closed;
    expect(r.bytes()).toBe(0);

    link.outage('blackhole');
    const held = connect(link.port, link.host);
    const h = collect(held);
    held.on('connect', () => held.write('anyone there?'));
    await new Promise((resolve) => held.once('connect', resolve));
    expect(link.stats.received.toTarget).toBe(0);
    link.restore();
    await h.closed;

    const back = connect(link.port, link.host);
    const b = collect(back);
    back.end('ok');
    await b.ended;
    expect(b.bytes()).toBe(2);
  });

  it('drops at random, reproducibly from its seed', async () => {
    const runs: number[] = [];
    for (let run = 0; run < 2; run++) {
      const clock = new ManualClock();
      // A sink, so only the pieces sent here draw from the generator.
      const link = await start({ clock, dropProbability: 0.2, seed: 42 }, async () => {
        const sink = createServer((socket) => {
          socket.on('error', () => undefined);
          socket.resume();
        });
        sink.listen(0, '127.0.0.1');
        await once(sink, 'listening');
        return sink;
      });
      let delivered = 0;
      // One piece per connection: a drop resets it before delivery.
      for (let i = 0; i < 20; i++) {
        const s = connect(link.port, link.host);
        s.on('error', () => undefined);
        s.write(Buffer.alloc(10));
        await waitUntil('the piece taken in', () => link.stats.received.toTarget === (i + 1) * 10);
        clock.advance(0);
        delivered = link.stats.delivered.toTarget;
        s.destroy();
      }
      runs.push(delivered);
      expect(link.stats.cuts).toBe(20 - delivered / 10);
    }
    expect(runs[0]).toBe(runs[1]);
    expect(runs[0]).toBeLessThan(200);
  });
});
