import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayIdentity } from '../../../src/core/provisioning/index.js';
import { isGatewayError } from '../../../src/core/errors.js';
import { createTestPki } from '../../support/test-pki.js';
import type { CertPair, TestPki } from '../../support/test-pki.js';

/** What `device-hosts gen --config` learns from a real configuration and certificate. */

let pki: TestPki;
let dir: string;
let cert: CertPair;
let wildcard: CertPair;

beforeAll(async () => {
  pki = await createTestPki();
  dir = await mkdtemp(join(tmpdir(), 'mgw-identity-'));
  cert = await pki.issueServer('gateway.site.test', {
    dns: ['gateway.site.test', 'Mender.Site.Test'],
    ips: ['10.0.0.1'],
  });
  wildcard = await pki.issueServer('wild', { dns: ['*.site.test', 'site.test'] });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await pki.cleanup();
});

async function writeConfig(name: string, conf: Record<string, unknown>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(conf));
  return path;
}

function https(certificate: CertPair, listen = ':8443'): Record<string, unknown> {
  return {
    Enabled: true,
    Listen: listen,
    ServerCertificate: certificate.certPath,
    ServerKey: certificate.keyPath,
  };
}

describe('loadGatewayIdentity', () => {
  it('GatewayURL host first, then the certificate DNS names; port and scheme from GatewayURL', async () => {
    const path = await writeConfig('a.conf', {
      UpstreamServer: { URL: 'https://Hosted.Mender.io' },
      HTTPS: https(cert),
      Features: {
        ArtifactsProxy: {
          Enabled: true,
          GatewayURL: 'https://mender.site.test:9443',
          DomainWhitelist: ['s3.amazonaws.com'],
        },
      },
    });
    const identity = await loadGatewayIdentity({ path, env: {} });
    expect(identity).toEqual({
      source: path,
      scheme: 'https',
      port: 9443,
      portSource: 'GatewayURL',
      names: ['mender.site.test', 'gateway.site.test'],
      certificateNames: ['gateway.site.test', 'mender.site.test'],
      upstreamHost: 'hosted.mender.io',
      leftOut: [],
      warnings: [],
    });
  });

  it('without GatewayURL: the HTTPS listener port; wildcard names are left out, with the reason', async () => {
    const path = await writeConfig('b.conf', {
      UpstreamServer: { URL: 'https://mender.example.com' },
      HTTPS: https(wildcard),
    });
    const identity = await loadGatewayIdentity({ path, env: {} });
    expect(identity.port).toBe(8443);
    expect(identity.portSource).toBe('HTTPS.Listen');
    expect(identity.names).toEqual(['site.test']);
    expect(identity.certificateNames).toEqual(['*.site.test', 'site.test']);
    expect(identity.leftOut).toEqual([
      {
        name: '*.site.test',
        reason:
          'is a wildcard: it stands for many hosts and cannot go into a hosts file; pass the names devices use with --alias',
      },
    ]);
    expect(identity.warnings).toEqual([]);
  });

  it('warns when GatewayURL names a host the certificate does not cover', async () => {
    const path = await writeConfig('c.conf', {
      UpstreamServer: { URL: 'https://mender.example.com' },
      HTTPS: https(cert),
      Features: { ArtifactsProxy: { GatewayURL: 'https://other.site.test' } },
    });
    const identity = await loadGatewayIdentity({ path, env: {} });
    expect(identity.names).toEqual(['other.site.test', 'gateway.site.test', 'mender.site.test']);
    expect(identity.warnings).toEqual([
      `GatewayURL host "other.site.test" is not among the server certificate's names (gateway.site.test, mender.site.test): devices will refuse the gateway's download links; reissue the certificate with --dns other.site.test`,
    ]);
  });

  it('plain HTTP only: scheme http, no certificate', async () => {
    const path = await writeConfig('d.conf', {
      UpstreamServer: { URL: 'https://mender.example.com' },
      HTTP: { Enabled: true, Listen: ':8080' },
    });
    const identity = await loadGatewayIdentity({ path, env: {} });
    expect(identity).toMatchObject({ scheme: 'http', port: 8080, names: [], certificateNames: undefined });
  });

  it('an unreadable certificate is MGW_TLS_MATERIAL naming the file', async () => {
    const missing = join(dir, 'missing.crt');
    const path = await writeConfig('e.conf', {
      UpstreamServer: { URL: 'https://mender.example.com' },
      HTTPS: { Enabled: true, ServerCertificate: missing, ServerKey: cert.keyPath },
    });
    const error = await loadGatewayIdentity({ path, env: {} }).catch((err: unknown) => err);
    expect(isGatewayError(error) && error.code).toBe('MGW_TLS_MATERIAL');
    expect((error as Error).message).toContain(missing);
  });

  it('an invalid configuration is MGW_CONFIG_INVALID, as for serve', async () => {
    const path = await writeConfig('f.conf', { HTTPS: https(cert) });
    const error = await loadGatewayIdentity({ path, env: {} }).catch((err: unknown) => err);
    expect(isGatewayError(error) && error.code).toBe('MGW_CONFIG_INVALID');
  });
});
