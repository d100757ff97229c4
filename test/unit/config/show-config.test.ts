import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { showConfig } from '../../../src/core/config/show-config.js';
import { CONFIG_TABLE } from '../../../src/core/config/config-table.js';

const SECRET = Buffer.from('a-signature-secret-of-32-bytes!!').toString('base64');

describe('config show: every key, its effective value and its source', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-show-unit-'));
    file = join(dir, 'mender-gateway.conf');
    await writeFile(
      file,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '' },
        UpstreamServer: { URL: 'https://hosted.mender.io' },
      }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists defaults with source "default", the file and the environment by name, secrets redacted', async () => {
    const shown = await showConfig({
      path: file,
      env: { ARTIFACTS_PROXY_CACHE_SECRET: SECRET, METRICS_LISTEN: '127.0.0.1:9200' },
      cwd: dir,
    });
    expect(shown.settings.map((s) => s.key)).toEqual(CONFIG_TABLE.map((e) => e.key));
    const of = (key: string) => shown.settings.find((s) => s.key === key);
    expect(of('HTTP.Enabled')).toEqual({ key: 'HTTP.Enabled', value: true, source: `file ${file}` });
    // "" is "not set": the default applies, and is shown as such.
    expect(of('HTTP.Listen')).toEqual({ key: 'HTTP.Listen', value: ':80', source: 'default' });
    // HTTP on and no HTTPS settings at all: HTTPS is off by default (docs/configuration.md, HTTPS).
    expect(of('HTTPS.Enabled')).toEqual({ key: 'HTTPS.Enabled', value: false, source: 'default' });
    expect(of('Metrics.Listen')).toEqual({
      key: 'Metrics.Listen',
      value: '127.0.0.1:9200',
      source: 'env METRICS_LISTEN',
    });
    expect(of('Features.ArtifactsProxy.ArtifactsCache.SignatureSecret')).toEqual({
      key: 'Features.ArtifactsProxy.ArtifactsCache.SignatureSecret',
      value: '[redacted]',
      source: 'env ARTIFACTS_PROXY_CACHE_SECRET',
    });
    expect(of('Features.mTLS.MenderPassword')).toEqual({
      key: 'Features.mTLS.MenderPassword',
      value: null,
      source: 'default',
    });
    expect(of('DeviceConnections.MaxPerIP')).toEqual({
      key: 'DeviceConnections.MaxPerIP',
      value: 1024,
      source: 'default',
    });
    expect(JSON.stringify(shown)).not.toContain(SECRET);
  });
});
