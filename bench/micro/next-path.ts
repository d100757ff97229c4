/**
 * The JavaScript work mender-gw does per deployments/next call, piece by piece, in one process
 * with no sockets: what bench/ab.ts cannot resolve on a busy machine (docs/performance.md, "What
 * was tried"). Each piece runs in batches; the minimum over the batches is reported (ns per call),
 * the figure least moved by other processes on the core.
 *
 *   npm run build && npx tsx bench/micro/next-path.ts [DIST]     (DIST: another build's dist/)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nextInstructions } from '../lib/origin.js';

const dist = resolve(process.argv[2] ?? 'dist');
const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(resolve(dist, path)).href)) as T;

interface SignerModule {
  ArtifactLinkSigner: new (
    secret: Buffer,
    gatewayUrl: URL,
    lifetimeMs: number,
  ) => {
    sign(origin: URL, artifact: { id?: string; name?: string }): { url: URL; expires: Date };
    signText?(origin: URL, artifact: { id?: string; name?: string }): { href: string; expire: string };
  };
}
interface RewriteModule {
  rewriteInstructions: (body: unknown, options: unknown) => unknown;
}
interface DiagnosticsModule {
  Instrumentation: new () => { exchangeEnd(exchange: unknown): void };
}
interface MetricsModule {
  GatewayMetrics: new () => unknown;
}
interface SubscriberModule {
  subscribeMetrics: (instrumentation: unknown, metrics: unknown) => () => void;
}
interface RelayModule {
  DeviceApiRelay: new (
    upstream: URL,
    dispatcher: unknown,
  ) => { upstreamHeaders(req: unknown, ip: string, drop?: readonly string[]): string[] };
}
interface HopModule {
  filterResponseHeaders: (
    headers: Record<string, string>,
    drop?: ReadonlySet<string>,
  ) => Record<string, string | string[]>;
}

const { ArtifactLinkSigner } = await load<SignerModule>('core/artifacts/artifact-link.js');
const { rewriteInstructions } = await load<RewriteModule>('core/artifacts/deployment-rewrite.js');
const { Instrumentation } = await load<DiagnosticsModule>('core/diagnostics.js');
const { GatewayMetrics } = await load<MetricsModule>('core/metrics/gateway-metrics.js');
const { subscribeMetrics } = await load<SubscriberModule>('core/metrics/metrics-subscriber.js');
const { DeviceApiRelay } = await load<RelayModule>('core/upstream/device-api-relay.js');
const { filterResponseHeaders } = await load<HopModule>('core/http/hop-by-hop.js');

const gatewayUrl = new URL('https://gateway.example.internal:8443');
const signer = new ArtifactLinkSigner(Buffer.alloc(32, 7), gatewayUrl, 86_400_000);
/** What artifacts-feature.ts hands rewriteInstructions: signText where the build has it, else sign(). */
const signLink = (origin: URL, artifact: { id?: string; name?: string }): { uri: string; expire: string } => {
  if (signer.signText !== undefined) {
    const { href, expire } = signer.signText(origin, artifact);
    return { uri: href, expire };
  }
  const { url, expires } = signer.sign(origin, artifact);
  return { uri: url.href, expire: expires.toISOString().replace(/\.\d{3}Z$/, 'Z') };
};
const options = {
  whitelist: ['127.0.0.1'],
  upstream: new URL('https://hosted.mender.io'),
  gatewayUrl,
  link: (origin: URL, artifact: { id: string | undefined; name: string | undefined }) =>
    signLink(origin, {
      ...(artifact.id === undefined ? {} : { id: artifact.id }),
      ...(artifact.name === undefined ? {} : { name: artifact.name }),
    }),
};
const upstreamBody = nextInstructions('http://127.0.0.1:9000');
const instrumentation = new Instrumentation();
subscribeMetrics(instrumentation, new GatewayMetrics());
const exchange = {
  req: { method: 'POST' },
  status: 200,
  path: '/api/devices/v2/deployments/device/deployments/next',
  bytesOut: 1073,
  outcome: { kind: 'completed' },
  cacheLookup: undefined,
};
const relay = new DeviceApiRelay(new URL('https://hosted.mender.io'), {});
const req = {
  rawHeaders: [
    'Host',
    'gateway.example.internal',
    'User-Agent',
    'Go-http-client/1.1',
    'Content-Length',
    '79',
    'Authorization',
    `Bearer ${'x'.repeat(600)}`,
    'Content-Type',
    'application/json',
    'Accept-Encoding',
    'gzip',
  ],
};
const upstreamHeaders = {
  'content-type': 'application/json',
  date: 'Mon, 07 Dec 2026 22:43:12 GMT',
  'content-length': '1000',
  connection: 'keep-alive',
  'keep-alive': 'timeout=5',
};
const DROPPED = new Set(['content-length', 'content-encoding', 'etag', 'content-md5']);

const pieces: Record<string, () => unknown> = {
  'parse + rewrite (sign) + serialise': () =>
    Buffer.from(JSON.stringify(rewriteInstructions(JSON.parse(upstreamBody.toString('utf8')), options))),
  'sign a cache link': () =>
    signLink(new URL('http://127.0.0.1:9000/artifacts/next/small.mender?X-Amz-Signature=1'), {
      id: 'a',
      name: 'b',
    }),
  'metrics of an exchange (exchangeEnd)': () => instrumentation.exchangeEnd(exchange),
  'upstream request headers (next drops accept-encoding)': () =>
    relay.upstreamHeaders(req, '10.0.0.7', ['accept-encoding']),
  'response headers filtered': () => filterResponseHeaders(upstreamHeaders, DROPPED),
};

const batch = 2000;
const batches = Number(process.env.MICRO_BATCHES ?? 40);
for (const [name, fn] of Object.entries(pieces)) {
  for (let i = 0; i < batch * 5; i++) fn(); // warm up: optimised code, as in a running gateway
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    times.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  times.sort((x, y) => x - y);
  console.log(
    `${name.padEnd(56)} min ${times[0]!.toFixed(0).padStart(6)} ns  median ${times[Math.floor(times.length / 2)]!.toFixed(0).padStart(6)} ns`,
  );
}
