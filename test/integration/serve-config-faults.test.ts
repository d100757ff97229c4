import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway } from '../../src/core/server/gateway.js';
import { loadConfig } from '../../src/core/config/load-config.js';
import { createLogger } from '../../src/core/logger.js';
import { isGatewayError } from '../../src/core/errors.js';
import { freePort } from '../support/free-port.js';
import { BIN } from '../support/serve-process.js';
import { createTestPki } from '../support/test-pki.js';
import type { TestPki } from '../support/test-pki.js';

/**
 * Config faults: every class of broken configuration stops `serve` before a single listener
 * opens, with one clear message that names the key (or environment variable) and the file it
 * came from. Each case runs the built `mender-gw serve` the way an operator or systemd does and
 * checks the exit code, stderr and that nothing ever logged `listening`.
 */

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runServe(configPath: string, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // A serve that started by mistake would run forever: the test's own timeout stops it then.
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Nothing accepts on this port (the listener was never opened, or was closed again). */
function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function expectRefusedToStart(out: Outcome, code: string, mentions: string[]): void {
  expect(out.code, out.stderr).toBe(1);
  // One error, first line `CODE: message`, then at most the issue lines and a hint.
  expect(out.stderr.trimStart().startsWith(`${code}:`), out.stderr).toBe(true);
  expect(out.stderr.match(/^MGW_[A-Z_]+:/gm), out.stderr).toHaveLength(1);
  for (const text of mentions) expect(out.stderr, `stderr should mention ${text}`).toContain(text);
  expect(out.stderr).toMatch(/hint: /);
  // No listener came up, not even for a moment; and no stack trace for an operator's mistake.
  expect(out.stdout).not.toMatch(/"msg":"listening"/);
  expect(out.stderr).not.toMatch(/\n\s+at /);
}

describe('serve refuses to start on a broken configuration', () => {
  let dir: string;
  let pki: TestPki;
  let other: TestPki;
  let httpPort: number;
  let httpsPort: number;

  /** A config that starts, with HTTP and HTTPS on free loopback ports; cases break one thing. */
  const base = (): Record<string, unknown> => ({
    HTTP: { Enabled: true, Listen: `127.0.0.1:${httpPort}` },
    HTTPS: {
      Enabled: true,
      Listen: `127.0.0.1:${httpsPort}`,
      ServerCertificate: 'server.crt',
      ServerKey: 'server.key',
    },
    UpstreamServer: { URL: 'https://127.0.0.1:9' },
  });

  async function writeConf(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mgw-config-faults-'));
    [pki, other] = await Promise.all([createTestPki({ name: 'faults' }), createTestPki({ name: 'other' })]);
    const [server, foreign] = await Promise.all([
      pki.issueServer('gateway.test', { ips: ['127.0.0.1'] }),
      other.issueServer('gateway.test', { ips: ['127.0.0.1'] }),
    ]);
    await copyFile(server.certPath, join(dir, 'server.crt'));
    await copyFile(server.keyPath, join(dir, 'server.key'));
    await copyFile(foreign.keyPath, join(dir, 'foreign.key'));
    await copyFile(pki.ca.certPath, join(dir, 'ca.crt'));
    await writeFile(join(dir, 'garbage.pem'), 'this is not PEM\n');
    await mkdir(join(dir, 'a-folder'));
    [httpPort, httpsPort] = [await freePort(), await freePort()];
  });
  afterAll(async () => {
    await Promise.all([pki.cleanup(), other.cleanup()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('the base configuration starts (so each case below fails for its own reason)', async () => {
    const path = await writeConf('good.conf', base());
    const config = await loadConfig({ path });
    const gateway = await createGateway(config.config, { logger: createLogger('error') });
    const bound = await gateway.start();
    expect(bound.map((b) => b.kind).sort()).toEqual(['http', 'https']);
    await gateway.close();
  });

  it('JSON syntax error: names the file, line and column', async () => {
    const path = await writeConf('syntax.conf', '{\n  "HTTP": { "Enabled": true }\n  "HTTPS": {}\n}\n');
    const out = await runServe(path);
    expectRefusedToStart(out, 'MGW_CONFIG_UNREADABLE', [path, ':3:3', 'missing comma']);
  });

  it('a value of the wrong type: names the key and the file', async () => {
    const conf = base();
    (conf.HTTP as Record<string, unknown>).Enabled = 'yes';
    const path = await writeConf('wrong-type.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', ['HTTP.Enabled', path]);
  });

  it('an upstream URL without a scheme: names UpstreamServer.URL', async () => {
    const conf = base();
    conf.UpstreamServer = { URL: 'hosted.mender.io' };
    const path = await writeConf('bad-url.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', ['UpstreamServer.URL', path]);
  });

  it('a duration that is not a Go duration: names the key', async () => {
    const conf = base();
    conf.UpstreamServer = { URL: 'https://127.0.0.1:9', ConnectTimeout: '30' };
    const path = await writeConf('bad-duration.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', ['UpstreamServer.ConnectTimeout', path]);
  });

  it('an unknown TLS version: names HTTPS.MinimumTLSVersion', async () => {
    const conf = base();
    (conf.HTTPS as Record<string, unknown>).MinimumTLSVersion = '1.4';
    const path = await writeConf('tls-version.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', ['HTTPS.MinimumTLSVersion', path]);
  });

  it('a bad value from the environment: names the variable, not the file', async () => {
    const path = await writeConf('env.conf', base());
    const out = await runServe(path, { UPSTREAM_SERVER_URL: 'not a url' });
    expectRefusedToStart(out, 'MGW_CONFIG_INVALID', ['UPSTREAM_SERVER_URL']);
  });

  it('a feature missing what it needs (mTLS without a CA or credentials): names each key', async () => {
    const conf = base();
    conf.Features = { mTLS: { Enabled: true } };
    const path = await writeConf('mtls.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', [
      'Features.mTLS.CACertificate',
      'Features.mTLS.MenderUsername',
    ]);
  });

  it('a server certificate that does not exist: names HTTPS.ServerCertificate and the path', async () => {
    const conf = base();
    (conf.HTTPS as Record<string, unknown>).ServerCertificate = 'missing.crt';
    const path = await writeConf('missing-cert.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_CONFIG_INVALID', [
      'HTTPS.ServerCertificate',
      'missing.crt',
    ]);
  });

  it('a server certificate that is not PEM: names HTTPS.ServerCertificate', async () => {
    const conf = base();
    (conf.HTTPS as Record<string, unknown>).ServerCertificate = 'garbage.pem';
    const path = await writeConf('garbage-cert.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_TLS_MATERIAL', [
      'HTTPS.ServerCertificate',
      'garbage.pem',
    ]);
  });

  it('a server key that does not match the certificate: names both keys', async () => {
    const conf = base();
    (conf.HTTPS as Record<string, unknown>).ServerKey = 'foreign.key';
    const path = await writeConf('foreign-key.conf', conf);
    expectRefusedToStart(await runServe(path), 'MGW_TLS_MATERIAL', [
      'HTTPS.ServerKey',
      'HTTPS.ServerCertificate',
      'does not match',
    ]);
  });

  it('an mTLS CA bundle that holds no certificate: names Features.mTLS.CACertificate', async () => {
    const conf = base();
    conf.Features = {
      mTLS: {
        Enabled: true,
        CACertificate: 'garbage.pem',
        MenderUsername: 'gateway@example.com',
        MenderPassword: 'correct horse battery staple',
      },
    };
    const path = await writeConf('mtls-garbage-ca.conf', conf);
    const out = await runServe(path);
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain('Features.mTLS.CACertificate');
    expect(out.stdout).not.toMatch(/"msg":"listening"/);
    // The password is never echoed, not even in an error about a sibling key.
    expect(out.stderr + out.stdout).not.toContain('correct horse battery staple');
  });

  it('the config path is a folder: says so', async () => {
    expectRefusedToStart(await runServe(join(dir, 'a-folder')), 'MGW_CONFIG_UNREADABLE', ['a-folder']);
  });

  it('the config file does not exist: names the path', async () => {
    const missing = join(dir, 'nope.conf');
    const out = await runServe(missing);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(missing);
    expect(out.stdout).not.toMatch(/"msg":"listening"/);
  });

  describe('a port that is taken (the second listener cannot bind)', () => {
    let squatter: Server;
    beforeAll(async () => {
      squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(httpsPort, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    });

    it('serve exits with MGW_LISTEN_FAILED naming HTTPS.Listen, and never logs listening', async () => {
      const path = await writeConf('port-taken.conf', base());
      expectRefusedToStart(await runServe(path), 'MGW_LISTEN_FAILED', [
        'HTTPS.Listen',
        `127.0.0.1:${httpsPort}`,
        'EADDRINUSE',
      ]);
    });

    it('the HTTP listener it had already opened is closed again: all or none', async () => {
      const path = await writeConf('port-taken-inproc.conf', base());
      const { config } = await loadConfig({ path });
      const gateway = await createGateway(config, { logger: createLogger('error') });
      const failure = await gateway.start().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isGatewayError(failure) && failure.code).toBe('MGW_LISTEN_FAILED');
      // This process stays alive (unlike serve, which exits): the HTTP port must not be left open.
      expect(await portIsClosed(httpPort)).toBe(true);
    });
  });
});
