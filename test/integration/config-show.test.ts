import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN } from '../support/serve-process.js';

const run = promisify(execFile);
const SECRET = Buffer.from('a-signature-secret-of-32-bytes!!').toString('base64');

interface Shown {
  file: string;
  settings: { key: string; value: unknown; source: string }[];
}

/** `config show` through the built binary: what serve would run with, and from where. */
describe('mender-gw config show', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-show-'));
    file = join(dir, 'mender-gateway.conf');
    await writeFile(
      file,
      JSON.stringify({
        HTTP: { Enabled: true, Listen: '127.0.0.1:8080' },
        HTTPS: { Enabled: false },
        UpstreamServer: { URL: 'https://hosted.mender.io' },
        Features: {
          ArtifactsProxy: {
            Enabled: true,
            GatewayURL: 'http://127.0.0.1:8080',
            DomainWhitelist: ['s3.amazonaws.com'],
            ArtifactsCache: { Enabled: true, Path: join(dir, 'cache'), SignatureSecret: SECRET },
          },
        },
      }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = { PATH: process.env.PATH, HTTP_LISTEN: '127.0.0.1:9090' };

  it('prints each setting with its source, the override by variable name, and no secret', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'config', 'show', '--config', file], { env });
    expect(stdout).toMatch(new RegExp(`^# ${file}$`, 'm'));
    expect(stdout).toMatch(/^HTTP\.Listen +=  ?"127\.0\.0\.1:9090" +# env HTTP_LISTEN$/m);
    expect(stdout).toMatch(/^UpstreamServer\.URL += "https:\/\/hosted\.mender\.io" +# file /m);
    expect(stdout).toMatch(/SignatureSecret += "\[redacted\]"/);
    expect(stdout).not.toContain(SECRET);
  });

  it('lists the keys the file and environment leave out with their defaults', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'config', 'show', '--config', file], { env });
    expect(stdout).toMatch(/^HTTPS\.Listen += ":443" +# default$/m);
    expect(stdout).toMatch(/^Metrics\.Listen += "127\.0\.0\.1:9102" +# default$/m);
    expect(stdout).toMatch(/^Features\.mTLS\.MenderPassword += null +# default$/m);
  });

  it('--json gives the same settings as data', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'config', 'show', '--config', file, '--json'], {
      env,
    });
    const shown = JSON.parse(stdout) as Shown;
    expect(shown.file).toBe(file);
    expect(shown.settings).toContainEqual({
      key: 'HTTP.Listen',
      value: '127.0.0.1:9090',
      source: 'env HTTP_LISTEN',
    });
    expect(shown.settings).toContainEqual({ key: 'Drain.Period', value: '30s', source: 'default' });
    expect(stdout).not.toContain(SECRET);
  });

  it('refuses an invalid configuration with the error serve would give', async () => {
    const bad = join(dir, 'bad.conf');
    await writeFile(bad, '{"HTTP": {"Enabled": "yes"}}');
    const failure = await run(process.execPath, [BIN, 'config', 'show', '--config', bad], { env }).catch(
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect('code' in failure && failure.code).toBe(1);
    expect((failure as { stderr: string }).stderr).toMatch(/^MGW_CONFIG_INVALID: /m);
  });
});
