import { createServer } from 'node:net';

/**
 * A port for a server whose own URL must be known before it starts (the gateway's
 * `Features.ArtifactsProxy.GatewayURL` names its port), on 127.0.0.1.
 *
 * Asking the kernel for port 0, closing it and binding again later races: between the two, the
 * kernel may hand the same port to any outgoing connection as its ephemeral port, or to a server
 * of a test running in parallel. So ports come from below the kernel's ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 by default), which it never assigns on
 * its own, and each vitest worker (`VITEST_POOL_ID`; the process id elsewhere) has a block of its
 * own, so no other process of the run is given the same port. Each candidate is still bound once
 * to skip a port something else holds.
 */
const FIRST = 20_000;
const BLOCK = 400;
const BLOCKS = Math.floor((32_768 - FIRST) / BLOCK);

const pool = Number(process.env.VITEST_POOL_ID ?? process.pid);
const blockStart = FIRST + ((Number.isFinite(pool) ? pool : process.pid) % BLOCKS) * BLOCK;
let next = 0;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let tried = 0; tried < BLOCK; tried++) {
    const port = blockStart + (next++ % BLOCK);
    if (await bindable(port)) return port;
  }
  throw new Error(`freePort: no free port in ${blockStart}–${blockStart + BLOCK - 1}`);
}
