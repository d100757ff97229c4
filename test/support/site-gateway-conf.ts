import type { FakeUpstream } from './fake-upstream/index.js';
import type { CertPair } from './test-pki.js';

export interface SiteGatewayOptions {
  upstream: FakeUpstream;
  port: number;
  /** HTTPS to devices with this certificate; plain HTTP without one. */
  cert?: CertPair | undefined;
  cacheDir: string;
  signatureSecret: string;
  /** Default true. */
  cache?: boolean | undefined;
  /** Default the fake upstream's storage host, `127.0.0.2`. */
  whitelist?: string[] | undefined;
  linkExpire?: string | undefined;
  metricsPort?: number | undefined;
  /** Device listener address; default `127.0.0.1:port`. */
  listen?: string | undefined;
  /** `GatewayURL`; default `scheme://127.0.0.1:port`. */
  gatewayUrl?: string | undefined;
}

/**
 * The `mender-gateway.conf` of a site in front of the fake upstream: devices on 127.0.0.1:port,
 * the upstream trusted through its test CA, ArtifactsProxy with the cache in `cacheDir`.
 */
export function siteGatewayConf(o: SiteGatewayOptions): Record<string, unknown> {
  const scheme = o.cert === undefined ? 'http' : 'https';
  const listen = o.listen ?? `127.0.0.1:${o.port}`;
  return {
    ...(o.metricsPort === undefined
      ? {}
      : { Metrics: { Enabled: true, Listen: `127.0.0.1:${o.metricsPort}` } }),
    ...(o.cert === undefined
      ? { HTTP: { Enabled: true, Listen: listen } }
      : {
          HTTP: { Enabled: false },
          HTTPS: {
            Enabled: true,
            Listen: listen,
            ServerCertificate: o.cert.certPath,
            ServerKey: o.cert.keyPath,
          },
        }),
    UpstreamServer: { URL: o.upstream.url, CACertificate: o.upstream.pki.ca.certPath },
    Features: {
      ArtifactsProxy: {
        Enabled: true,
        GatewayURL: o.gatewayUrl ?? `${scheme}://127.0.0.1:${o.port}`,
        DomainWhitelist: o.whitelist ?? ['127.0.0.2'],
        ArtifactsCache: {
          Enabled: o.cache ?? true,
          Path: o.cacheDir,
          SignatureSecret: o.signatureSecret,
          LinkExpireDuration: o.linkExpire ?? '24h',
        },
      },
    },
  };
}
