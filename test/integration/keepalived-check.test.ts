import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRET } from '../support/cache-scenario.js';
import { startFakeUpstream } from '../support/fake-upstream/index.js';
import type { FakeUpstream } from '../support/fake-upstream/index.js';
import { freePort } from '../support/free-port.js';
import { CHECK_EXAMPLE } from '../support/keepalived.js';
import { findBinary } from '../support/mender-device/find-binary.js';
import { startServeProcess } from '../support/serve-process.js';
import type { ServeProcess } from '../support/serve-process.js';
import { privilegedRequired } from '../support/privileged.js';
import { siteGatewayConf } from '../support/site-gateway-conf.js';
import { skipBecause } from '../support/skip-reason.js';

const READY = '/api/internal/v1/gateway/ready';
const missing = ['curl', 'wget'].filter((tool) => findBinary(tool) === undefined);

interface CheckResult {
  code: number;
  stderr: string;
}

/** Runs the shipped check script as keepalived does: no arguments, settings in the environment. */
function runCheck(env: NodeJS.ProcessEnv): Promise<CheckResult> {
  return new Promise((resolve) => {
    execFile(CHECK_EXAMPLE, [], { env, timeout: 10_000 }, (error, _stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stderr });
    });
  });
}

/**
 * docs/examples/keepalived/mender-gw-check, the health check that moves the floating address
 * (docs/operator-guide.md §7): exit 0 only while the local gateway's /ready answers 200; a drain,
 * a lost upstream and a dead gateway all fail it, with curl and with wget. The whole failover with
 * keepalived is test/e2e/failover-keepalived.test.ts.
 */
describe.skipIf(
  // CI (scripts/test.sh, which installs both tools) sets MGW_REQUIRE_PRIVILEGED=1: no skip there.
  skipBecause(
    missing.length > 0 && !privilegedRequired,
    'mender-gw-check',
    `${missing.join(' and ')} not installed`,
  ),
)('the shipped keepalived health check', () => {
  let upstream: FakeUpstream;
  let work: string;
  let wgetOnly: string;
  const serves: ServeProcess[] = [];

  async function startGateway(name: string): Promise<{ serve: ServeProcess; url: string }> {
    const port = await freePort();
    const cert = await upstream.pki.issueServer(`${name}.fake.test`, { ips: ['127.0.0.1'] });
    const conf = siteGatewayConf({
      upstream,
      port,
      cert,
      cacheDir: join(work, `cache-${name}`),
      signatureSecret: SECRET,
    });
    const path = join(work, `${name}.conf`);
    await writeFile(path, JSON.stringify(conf));
    const serve = await startServeProcess(path);
    serves.push(serve);
    return { serve, url: `${serve.urls.https!}${READY}` };
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`MGW_REQUIRE_PRIVILEGED=1 but ${missing.join(', ')} missing`);
    upstream = await startFakeUpstream();
    work = await mkdtemp(join(tmpdir(), 'mgw-check-'));
    // A PATH with wget but no curl, to take the script's other branch.
    wgetOnly = join(work, 'wget-only');
    await mkdir(wgetOnly);
    for (const tool of ['sh', 'awk', 'wget', 'cat'])
      await symlink(findBinary(tool) ?? `/usr/bin/${tool}`, join(wgetOnly, tool));
  });

  afterAll(async () => {
    for (const serve of serves) await serve.stop();
    await (upstream as FakeUpstream | undefined)?.close();
    if ((work as string | undefined) !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('passes on a ready gateway and fails once it drains or dies, with curl and with wget', async () => {
    const { serve, url } = await startGateway('gw');
    const curlEnv = { PATH: process.env.PATH, MGW_CHECK_URL: url };
    const wgetEnv = { PATH: wgetOnly, MGW_CHECK_URL: url };

    expect(await runCheck(curlEnv)).toEqual({ code: 0, stderr: '' });
    expect(await runCheck({ ...curlEnv, MGW_CHECK_CACERT: upstream.pki.ca.certPath })).toEqual({
      code: 0,
      stderr: '',
    });
    expect(await runCheck(wgetEnv)).toEqual({ code: 0, stderr: '' });
    expect(await runCheck({ ...wgetEnv, MGW_CHECK_CACERT: upstream.pki.ca.certPath })).toEqual({
      code: 0,
      stderr: '',
    });

    // A drain: /ready answers 503 while the gateway still serves.
    serve.child.kill('SIGUSR2');
    await serve.logs.waitFor((l) => l.msg.startsWith('draining'));
    for (const env of [curlEnv, wgetEnv]) {
      const result = await runCheck(env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('answered 503');
    }

    // A dead gateway: nothing answers.
    await serve.stop('SIGKILL');
    for (const env of [curlEnv, wgetEnv]) {
      const result = await runCheck(env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/answered (000|nothing)/);
    }
  });

  it('fails while the gateway cannot reach its upstream server', async () => {
    // Every upstream answer is a 502: the readiness probe counts only answers below 500.
    const remove = upstream.intercept((_req, res) => {
      res.writeHead(502).end();
      return true;
    });
    try {
      const { url } = await startGateway('no-uplink');
      for (const path of [process.env.PATH, wgetOnly]) {
        const result = await runCheck({ PATH: path, MGW_CHECK_URL: url });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('answered 503');
      }
    } finally {
      remove();
    }
  });
});
