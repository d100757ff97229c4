import { Flags } from '@oclif/core';
import { GatewayCommand } from '../cli/gateway-command.js';
// Direct imports, not core/index.js: the gateway never needs the PKI tooling (@peculiar/x509
// and its dependencies), and not loading it keeps `serve` smaller (benchmark M5 in docs/performance.md).
import { createGateway } from '../core/server/gateway.js';
import { createLogger, LOG_LEVELS } from '../core/logger.js';
import type { LogLevel } from '../core/logger.js';
import { loadConfig } from '../core/config/load-config.js';
import type { GatewayConfig } from '../core/config/gateway-config.js';
import { renderError } from '../cli/render-error.js';
import { key } from '../core/config-key.js';
import { configFlag } from '../cli/config-flag.js';

export default class Serve extends GatewayCommand {
  static override summary = 'Run the gateway: relay the Mender device API to the upstream server.';

  static override description = `Devices talk to the gateway as if it were the Mender server. Everything under /api/devices/ is relayed to ${key('UpstreamServer.URL')}; GET /api/internal/v1/gateway/alive answers 204 while the process runs, GET /api/internal/v1/gateway/ready 200 when the upstream server answers and the gateway is not draining (else 503, with the reason in its JSON body); every other path answers 404. With ${key('Metrics.Enabled')}, the metrics listener (loopback by default) serves /metrics and the status page /status (docs/operator-guide.md).

Logs are JSON lines on stdout. SIGTERM or SIGINT stops accepting connections, lets transfers in flight finish within ShutdownGracePeriod, and exits 0.

With ${key('Drain.Enabled')}, SIGTERM first drains for ${key('Drain.Period')}: device calls get 401 and auth requests 503, so devices authenticate again with the next server of their Servers list; /ready answers 503; downloads go on. A second SIGTERM, or SIGINT, shuts down at once. SIGUSR2 starts a drain that does not end: the gateway keeps draining until it is stopped.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf',
    '$ UPSTREAM_SERVER_URL=https://hosted.mender.io <%= config.bin %> <%= command.id %> --log-level debug',
  ];

  static override flags = {
    config: configFlag(),
    'log-level': Flags.string({
      summary: 'Log level, applied before the configuration is read.',
      options: [...LOG_LEVELS],
      default: 'info',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    const explicitLevel = this.argv.some((arg) => arg.startsWith('--log-level'));
    const logger = createLogger(flags['log-level'] as LogLevel);
    try {
      const { config, warnings, envOverrides } = await loadConfig({ path: flags.config });
      for (const issue of warnings)
        logger.warn({ path: issue.path, source: issue.source, hint: issue.hint }, issue.message);
      // Legacy `DebugLog: true` (docs/protocol.md §6.2) unless the flag says otherwise.
      if (config.debugLog && !explicitLevel) logger.level = 'debug';
      // What an operator needs first when something is off: which program, which file, what is on,
      // and which environment variables won over the file (names only: values may be secrets).
      logger.info(
        {
          version: this.config.version,
          node: process.versions.node,
          config: config.sourceFile ?? '(environment only)',
          features: enabledFeatures(config),
          envOverrides,
        },
        'loaded configuration',
      );

      const gateway = await createGateway(config, { logger, version: this.config.version });
      await gateway.start();
      await new Promise<void>((resolve) => {
        let draining = false;
        let closing = false;
        const shutdown = (): void => {
          if (closing) return;
          closing = true;
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          process.off('SIGUSR2', drainNow);
          gateway.close().then(resolve, resolve);
        };
        function stop(signal: NodeJS.Signals): void {
          logger.info({ signal }, 'signal received');
          // Drain first on the first SIGTERM only; a second SIGTERM, or SIGINT, stops now.
          if (signal === 'SIGTERM' && config.drain.enabled && !draining) {
            draining = true;
            gateway.drain().then(shutdown, shutdown);
            return;
          }
          shutdown();
        }
        // An operator's drain: it lasts until the gateway is stopped.
        function drainNow(signal: NodeJS.Signals): void {
          logger.info({ signal }, 'signal received');
          void gateway.drain();
        }
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        process.on('SIGUSR2', drainNow);
      });
      logger.flush();
    } catch (err) {
      const { text, exitCode } = renderError(err);
      logger.flush();
      this.logToStderr(text);
      this.exit(exitCode);
    }
  }
}

function enabledFeatures(config: GatewayConfig): string[] {
  const features: string[] = [];
  if (config.artifactsProxy.enabled)
    features.push(
      config.artifactsProxy.cache.enabled ? 'ArtifactsProxy (cache)' : 'ArtifactsProxy (proxy only)',
    );
  if (config.mtls.enabled) features.push('mTLS');
  if (config.deviceSystem.enabled) features.push('DeviceSystem');
  if (config.drain.enabled) features.push('Drain');
  if (config.metrics.enabled) features.push('Metrics');
  return features;
}
