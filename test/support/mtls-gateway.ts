import { DEFAULT_MANAGEMENT } from './fake-upstream/index.js';
import type { FakeUpstream } from './fake-upstream/index.js';

/**
 * The configuration of an HTTPS-only gateway with Features.mTLS in front of the fake upstream:
 * a server certificate for 127.0.0.1 from the fake's CA, device certificates trusted from
 * `deviceCaPath`, the fake's management user. `mtls` overrides or adds mTLS keys (a key set to
 * `undefined` is left out of the file, e.g. a password that comes from the environment).
 */
export async function mtlsGatewayConf(
  upstream: FakeUpstream,
  deviceCaPath: string,
  mtls: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const server = await upstream.pki.issueServer('gateway.test', {
    dns: ['gateway.test'],
    ips: ['127.0.0.1'],
  });
  return {
    UpstreamServer: { URL: upstream.url, CACertificate: upstream.pki.ca.certPath },
    HTTP: { Enabled: false },
    HTTPS: {
      Enabled: true,
      Listen: '127.0.0.1:0',
      ServerCertificate: server.certPath,
      ServerKey: server.keyPath,
    },
    ...extra,
    Features: {
      mTLS: {
        Enabled: true,
        CACertificate: deviceCaPath,
        MenderUsername: DEFAULT_MANAGEMENT.username,
        MenderPassword: DEFAULT_MANAGEMENT.password,
        ...mtls,
      },
    },
  };
}
