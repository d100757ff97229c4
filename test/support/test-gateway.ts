import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, createLogger, loadConfig } from '../../src/core/index.js';
import type { BoundAddress, Gateway, GatewayConfig } from '../../src/core/index.js';
import { LogCapture } from './log-capture.js';

export interface TestGateway {
  gateway: Gateway;
  config: GatewayConfig;
  addresses: BoundAddress[];
  /** Base URL of the first listener (HTTP if enabled, else HTTPS). */
  url: string;
  httpUrl: string | undefined;
  httpsUrl: string | undefined;
  logs: LogCapture;
  dir: string;
  close(): Promise<void>;
}

/**
 * Start an in-process gateway from a real `mender-gateway.conf` written to a temp folder,
 * so every test goes through the same config loader as `serve`. Listeners bind to
 * 127.0.0.1 on random ports unless the config says otherwise.
 */
export async function startTestGateway(
  conf: Record<string, unknown>,
  options: { env?: NodeJS.ProcessEnv; logLevel?: 'debug' | 'info' } = {},
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'mgw-gateway-'));
  const file = join(dir, 'mender-gateway.conf');
  const merged = {
    HTTP: { Enabled: true, Listen: '127.0.0.1:0' },
    HTTPS: { Enabled: false },
    ...conf,
  };
  await writeFile(file, JSON.stringify(merged, null, 2));
  const env = options.env ?? {};
  const { config } = await loadConfig({ path: file, env });
  const logs = new LogCapture();
  const logger = createLogger(options.logLevel ?? 'debug', logs);
  const gateway = await createGateway(config, { logger, env });
  const addresses = await gateway.start();
  // With mTLS the gateway logs in to the management API once at start; let that finish, so tests
  // that count upstream calls count only what their devices caused.
  if (config.mtls.enabled)
    await logs.waitFor(
      (l) =>
        l.msg === 'logged in to the management API' ||
        l.msg.startsWith('mTLS: management login failed at start'),
    );
  const httpUrl = addresses.find((a) => a.kind === 'http')?.url;
  const httpsUrl = addresses.find((a) => a.kind === 'https')?.url;
  return {
    gateway,
    config,
    addresses,
    url: (httpUrl ?? httpsUrl)!,
    httpUrl,
    httpsUrl,
    logs,
    dir,
    async close() {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
