import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { WebSocket } from 'ws';
import { openFiles, rss } from '../../test/support/proc.js';
import { MiB } from '../../test/support/stats.js';

/** mender-connect's endpoint (docs/protocol.md §2.6). */
const CONNECT_PATH = '/api/devices/v1/deviceconnect/connect';
/** TLS handshakes + upgrades in flight at once: a site's devices reconnect spread out, not in one instant. */
const OPEN_CONCURRENCY = 50;
/** Per tunnel: upgrade, echo, and close each get this long before they count as an error. */
const STEP_TIMEOUT_MS = 15_000;
/**
 * Each tunnel comes from its own loopback address (127.0.1.1 … 127.0.1.250), as each device has its
 * own IP on a site: 1,000 tunnels from one address would run into the gateway's per-address
 * connection limit (`DeviceConnections.MaxPerIP`, 1024 by default), which a real site never meets.
 */
const SOURCE_ADDRESSES = 250;

export interface TunnelMemoryOptions {
  /** Gateway base URL (`https://127.0.0.1:<port>`). */
  gatewayUrl: string;
  /** CA (PEM) of the gateway's certificate. */
  ca: string;
  /** The gateway's process id (RSS, open files). */
  pid: number;
  /** The gateway's Prometheus endpoint (`http://127.0.0.1:<port>/metrics`). */
  metricsUrl: string;
  /** Device JWTs to open tunnels with, used in turn when there are fewer devices than tunnels. */
  jwts: string[];
  count: number;
}

export interface TunnelMemoryResult {
  requested: number;
  opened: number;
  /** Upgrades refused or failed, echoes missing or wrong, closes that timed out. */
  errors: number;
  firstErrors: string[];
  rssBeforeMiB: number;
  rssOpenMiB: number;
  rssPerTunnelKiB: number;
  fdsPerTunnel: number;
  /** `mender_gw_websocket_tunnels_open` with every tunnel open, and after closing them all. */
  gaugeOpen: number;
  gaugeAfterClose: number;
  /**
   * Open files of the gateway after closing minus before opening: ≤ 0 means nothing leaked (idle
   * upstream keep-alive connections of the gateway may time out meanwhile and make it negative).
   */
  fdsLeftAfterClose: number;
}

/** Soft `Max open files` of a process (`/proc/<pid>/limits`); Node raises its own to the hard limit at start. */
export function openFileLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

async function tunnelGauge(metricsUrl: string): Promise<number> {
  const res = await request(metricsUrl);
  const text = await res.body.text();
  const value = /^mender_gw_websocket_tunnels_open (\d+)/m.exec(text)?.[1];
  if (res.statusCode !== 200 || value === undefined)
    throw new Error(`gateway metrics: status ${res.statusCode}, no mender_gw_websocket_tunnels_open`);
  return Number(value);
}

/**
 * Wait until the gateway's tunnel gauge shows `expected`. Another process's gauge has no event
 * to await: poll it, bounded (every scrape is itself a round trip through the gateway's event
 * loop, so it also lets the loop finish the close handlers it has queued).
 */
async function gaugeSettles(metricsUrl: string, expected: number): Promise<number> {
  let value = await tunnelGauge(metricsUrl);
  for (let attempt = 0; attempt < 40 && value !== expected; attempt++) {
    await sleep(50);
    value = await tunnelGauge(metricsUrl);
  }
  return value;
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${STEP_TIMEOUT_MS} ms`)),
      STEP_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function openTunnel(url: string, jwt: string, ca: string, localAddress: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${jwt}` },
      ca,
      localAddress,
      perMessageDeflate: false,
      handshakeTimeout: STEP_TIMEOUT_MS,
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(new Error(`upgrade answered ${res.statusCode ?? 0}`));
    });
    ws.once('error', reject);
  });
}

/** One message through the tunnel and back (the fake deviceconnect echoes it). */
function echo(ws: WebSocket, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = (): void => reject(new Error('closed before the echo came back'));
    ws.once('close', closed);
    ws.once('message', (data: Buffer) => {
      ws.off('close', closed);
      if (data.toString() === text) resolve();
      else reject(new Error(`echo came back as ${data.length} other bytes`));
    });
    ws.send(text);
  });
}

function closeTunnel(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) {
      resolve();
      return;
    }
    ws.once('close', () => resolve());
    ws.close(1000);
  });
}

/**
 * The Fleet benchmark (docs/performance.md): the gateway's memory per open WebSocket tunnel. Opens `count`
 * tunnels through
 * the gateway to the fake upstream's deviceconnect, as mender-connect does (device JWT as
 * `Authorization: Bearer`), checks each with one echoed message, reads the gateway's VmRSS before
 * and with all of them open, then closes them and checks that the gateway's tunnel gauge and its
 * open-file count return to where they were. Nothing is forced (no GC): the difference is what
 * an operator would see.
 */
export async function measureTunnelMemory(options: TunnelMemoryOptions): Promise<TunnelMemoryResult> {
  const { pid, count } = options;
  const url = `${options.gatewayUrl.replace(/^http/, 'ws')}${CONNECT_PATH}`;
  // One entry per failed tunnel (its first failure), so a tunnel that fails twice counts once.
  const failed = new Map<number, string>();
  const fail = (i: number, error: unknown): void => {
    if (!failed.has(i))
      failed.set(i, `tunnel ${i}: ${error instanceof Error ? error.message : String(error)}`);
  };

  // The scrape is answered only after the gateway's loop has run everything queued before it.
  await tunnelGauge(options.metricsUrl);
  const rssBefore = rss(pid);
  const fdsBefore = openFiles(pid);

  // Tunnels that opened, by index, so failures name the same tunnel as in the opening loop.
  const sockets = new Map<number, WebSocket>();
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const jwt = options.jwts[i % options.jwts.length]!;
      const source = `127.0.1.${1 + (i % SOURCE_ADDRESSES)}`;
      try {
        const ws = await withTimeout(openTunnel(url, jwt, options.ca, source), 'upgrade');
        // A tunnel that dies while the others open is an error too.
        ws.on('error', (error) => fail(i, error));
        sockets.set(i, ws);
        await withTimeout(echo(ws, `tunnel ${i}`), 'echo');
      } catch (error) {
        fail(i, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, opener));

  const opened = [...sockets.values()].filter((ws) => ws.readyState === WebSocket.OPEN).length;
  const gaugeOpen = await gaugeSettles(options.metricsUrl, opened);
  const rssOpen = rss(pid);
  const fdsOpen = openFiles(pid);

  await Promise.all(
    [...sockets].map(([i, ws]) =>
      withTimeout(closeTunnel(ws), 'close').catch((error: unknown) => {
        fail(i, error);
        ws.terminate();
      }),
    ),
  );
  const gaugeAfterClose = await gaugeSettles(options.metricsUrl, 0);
  // The gateway releases both sockets of a tunnel in the same close handler the gauge counts in.
  const fdsAfterClose = openFiles(pid);

  return {
    requested: count,
    opened,
    errors: failed.size,
    firstErrors: [...failed.values()].slice(0, 5),
    rssBeforeMiB: rssBefore / MiB,
    rssOpenMiB: rssOpen / MiB,
    rssPerTunnelKiB: opened === 0 ? Number.NaN : (rssOpen - rssBefore) / opened / 1024,
    fdsPerTunnel: opened === 0 ? Number.NaN : (fdsOpen - fdsBefore) / opened,
    gaugeOpen,
    gaugeAfterClose,
    fdsLeftAfterClose: fdsAfterClose - fdsBefore,
  };
}
