import { spawn } from 'node:child_process';
import { skipBecause } from '../support/skip-reason.js';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '@oclif/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { interviewSetup } from '../../src/cli/setup-interview.js';
import { ENV_OVERRIDES } from '../../src/core/config/env-overrides.js';
import type { ConfigValidation } from '../../src/core/config/index.js';
import { applySetup } from '../../src/core/setup/index.js';
import { scriptedPrompter } from '../unit/setup/scripted-prompter.js';

/**
 * `mender-gw config init`: a `--no-prompt` run writes a configuration `config validate`
 * accepts; an interactive run answers the same questions and writes the same file, driven
 * once through the prompt functions (dependency injection) and once through a real
 * pseudo-terminal (util-linux `script`), where Ctrl-C must exit 130 without a stack.
 * oclif loads the compiled commands from dist/: run `npm run build` first (npm test does).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/run.js');
const LOAD = { root: ROOT, ignoreManifest: true };
const SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0ITEyMzQ=';

const ENV_NAMES = ENV_OVERRIDES.flatMap((e) => [e.env, ...(e.aliases ?? []).map((a) => a.env)]);
const saved = new Map<string, string | undefined>();
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/commands/config/init.js'))) {
    throw new Error('dist/ is missing or stale: run `npm run build` before these tests (npm test does)');
  }
  for (const name of [...ENV_NAMES, 'CI']) {
    saved.set(name, process.env[name]);
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring a test environment
    delete process.env[name];
  }
  // Never prompt inside runCommand, even if the runner has a terminal.
  process.env.CI = '1';
  dir = await mkdtemp(join(tmpdir(), 'mgw-config-init-'));
});
afterAll(async () => {
  for (const [name, value] of saved) {
    // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- restoring a test environment
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  // oclif's error path sets process.exitCode; it must not leak into the test runner.
  process.exitCode = undefined;
});

/** The flags equivalent to the interactive answers used below. */
function flagsFor(out: string): string[] {
  return [
    '--no-prompt',
    '--out',
    out,
    '--upstream-url',
    'https://mender.example.com',
    '--gateway-name',
    'gateway.site.test',
    '--gateway-ip',
    'fd00::1',
    '--https-port',
    '8443',
    '--create-certs',
    '--keep-ca-key',
    '--domain-whitelist',
    'mender.example.com',
    '--enable-cache',
    '--cache-path',
    join(dir, 'cache'),
    '--signature-secret',
    SECRET,
    '--mtls',
    '--mender-username',
    'gw@example.com',
    '--mender-password',
    's3cret',
    '--system-id',
    'ward-7',
  ];
}

/** Two runs in different folders write the same file up to the folder name. */
async function normalized(file: string, folder: string): Promise<string> {
  return (await readFile(file, 'utf8')).split(folder).join('<dir>');
}

async function fresh(name: string): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder);
  return folder;
}

describe('config init --no-prompt', () => {
  let reference: string;
  let referenceDir: string;

  it('writes a 0600 configuration and certificates that config validate accepts', async () => {
    referenceDir = await fresh('flags');
    const out = join(referenceDir, 'mender-gateway.conf');
    const { stdout, stderr, error } = await runCommand(['config', 'init', ...flagsFor(out)], LOAD);
    expect(error).toBeUndefined();
    expect(stderr).toBe('');
    expect(stdout).toContain(`wrote ${out} (mode 0600)`);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    expect((await stat(join(referenceDir, 'pki/ca.key'))).mode & 0o777).toBe(0o600);
    reference = await normalized(out, referenceDir);

    const config = JSON.parse(await readFile(out, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(config.HTTPS).toEqual({
      Enabled: true,
      Listen: ':8443',
      MinimumTLSVersion: '1.2',
      ServerCertificate: join(referenceDir, 'pki/server.crt'),
      ServerKey: join(referenceDir, 'pki/server.key'),
    });
    const server = new X509Certificate(await readFile(join(referenceDir, 'pki/server.crt')));
    expect(server.subjectAltName).toBe('DNS:gateway.site.test, IP Address:FD00:0:0:0:0:0:0:1');
    expect(server.checkIssued(new X509Certificate(await readFile(join(referenceDir, 'pki/ca.crt'))))).toBe(
      true,
    );

    const validate = await runCommand<ConfigValidation>(
      ['config', 'validate', '--config', out, '--json'],
      LOAD,
    );
    expect(validate.error).toBeUndefined();
    expect(validate.result).toMatchObject({ valid: true, errors: [], warnings: [] });
  });

  it('never overwrites without --force; certificates are never replaced', async () => {
    const out = join(referenceDir, 'mender-gateway.conf');
    const again = await runCommand(['config', 'init', ...flagsFor(out)], LOAD);
    expect(again.error?.message).toMatch(/EEXIT: 1/);
    expect(again.stderr).toContain(`MGW_FILE_EXISTS: ${out} already exists; nothing was written`);

    const forced = await runCommand(['config', 'init', ...flagsFor(out), '--force'], LOAD);
    expect(forced.error?.message).toMatch(/EEXIT: 1/);
    expect(forced.stderr).toContain('MGW_FILE_EXISTS');
    expect(forced.stderr).toContain('pki/ca.crt');
    expect(await normalized(out, referenceDir)).toBe(reference);

    const reuse = await runCommand(
      [
        'config',
        'init',
        ...flagsFor(out).filter((f) => f !== '--create-certs' && f !== '--keep-ca-key'),
        '--server-cert',
        join(referenceDir, 'pki/server.crt'),
        '--server-key',
        join(referenceDir, 'pki/server.key'),
        '--mtls-ca',
        join(referenceDir, 'pki/ca.crt'),
        '--force',
      ],
      LOAD,
    );
    expect(reuse.error).toBeUndefined();
    expect(await normalized(out, referenceDir)).toBe(reference);
  });

  it('missing required flags: exit 2 naming all of them, nothing written', async () => {
    const folder = await fresh('missing');
    const { stderr, error } = await runCommand(
      ['config', 'init', '--no-prompt', '--out', join(folder, 'gw.conf')],
      LOAD,
    );
    expect(error?.message).toMatch(/EEXIT: 2/);
    expect(stderr).toBe(
      'MGW_SETUP_INVALID_INPUT: missing required input: --upstream-url, --gateway-name, --create-certs or --server-cert/--server-key\n' +
        'hint: Pass them as flags (prompts are offered only in an interactive terminal without --no-prompt, --json or CI).\n',
    );
    expect(await readdir(folder)).toEqual([]);
  });

  it('the management password may come from MTLS_MENDER_PASSWORD', async () => {
    const folder = await fresh('env-password');
    const out = join(folder, 'gw.conf');
    const args = flagsFor(out);
    args.splice(args.indexOf('--mender-password'), 2);
    process.env.MTLS_MENDER_PASSWORD = 'from-env';
    try {
      const { error } = await runCommand(['config', 'init', ...args], LOAD);
      expect(error).toBeUndefined();
    } finally {
      delete process.env.MTLS_MENDER_PASSWORD;
    }
    const config = JSON.parse(await readFile(out, 'utf8')) as {
      Features: { mTLS: { MenderPassword: string } };
    };
    expect(config.Features.mTLS.MenderPassword).toBe('from-env');
  });

  it('refuses a file serve would refuse before anything is written, and creates no certificates', async () => {
    const folder = await fresh('invalid');
    const out = join(folder, 'gw.conf');
    const missing = join(folder, 'no-such-ca.pem');
    const { stderr, error } = await runCommand(
      ['config', 'init', ...flagsFor(out), '--upstream-ca', missing],
      LOAD,
    );
    expect(error?.message).toMatch(/EEXIT: 2/);
    expect(stderr).toContain(`MGW_SETUP_INVALID_INPUT: "${missing}" does not exist`);
    expect(await readdir(folder)).toEqual([]);
  });

  it('--json: the result with secrets redacted', async () => {
    const folder = await fresh('json');
    const out = join(folder, 'gw.conf');
    const { stdout, error } = await runCommand(['config', 'init', ...flagsFor(out), '--json'], LOAD);
    expect(error).toBeUndefined();
    const result = JSON.parse(stdout) as { file: string; certificates: unknown[]; config: unknown };
    expect(result.file).toBe(out);
    expect(result.certificates).toHaveLength(2);
    expect(JSON.stringify(result.config)).not.toMatch(/s3cret|c2VjcmV0/);
    expect(JSON.stringify(result.config)).toContain('(secret)');
  });

  describe('interactive', () => {
    it('prompt answers (injected prompter) give the same file as the flags', async () => {
      const folder = await fresh('prompted');
      const out = join(folder, 'mender-gateway.conf');
      const prompter = scriptedPrompter([
        { input: /^Upstream Mender server URL/, answer: 'https://mender.example.com' },
        // A wrong path is refused at its prompt and asked again; the run goes on.
        {
          input: /private CA/,
          answer: '/nonexistent/ca.pem',
          refused: /"\/nonexistent\/ca\.pem" does not exist/,
        },
        { input: /private CA/, answer: '' },
        { input: /^DNS name devices use/, answer: 'gateway.site.test' },
        { input: /^IP address devices use/, answer: 'fd00::1' },
        { input: /^HTTPS port/, answer: '8443' },
        { select: /^TLS certificate/, answer: 'create' },
        { input: /^Directory for the CA/, answer: '' },
        {
          input: /^File for the CA private key/,
          answer: join(folder, 'pki/ca.key'),
          refused: /beside the configuration/,
        },
        { input: /^File for the CA private key/, answer: join(dir, 'prompted-offline/ca.key') },
        { confirm: /artifacts proxy/, answer: true },
        { input: /^Storage host names/, answer: '' },
        { confirm: /^Cache artifacts/, answer: true },
        { input: /^Cache directory/, answer: join(dir, 'cache') },
        { confirm: /mTLS/, answer: true },
        { input: /^CA certificate that signs the device certificates/, answer: '' },
        { input: /^Mender user/, answer: 'gw@example.com' },
        { password: /^Password of/, answer: 's3cret' },
        { confirm: /Device System/, answer: true },
        { input: /^System ID/, answer: 'ward-7' },
        { input: /^Group of the service user/, answer: '' },
      ]);
      const answers = await interviewSetup(
        { out },
        { interactive: true, prompter, generateSecret: () => SECRET },
      );
      expect(prompter.remaining()).toBe(0);
      expect(prompter.refusals).toHaveLength(2);
      await applySetup({ answers, out });
      expect(await normalized(out, folder)).toBe(
        await normalized(join(dir, 'flags/mender-gateway.conf'), join(dir, 'flags')),
      );
    });

    // util-linux `script` provides the pseudo-terminal; without it only the injected prompts run.
    it.skipIf(
      skipBecause(
        !existsSync('/usr/bin/script'),
        'config init in a real pty',
        'script(1) from util-linux is not installed',
      ),
    )('a real terminal (script(1) pty) gives the same file; Ctrl-C exits 130 without a stack', async () => {
      const folder = await fresh('pty');
      const out = join(folder, 'mender-gateway.conf');
      // The secret is random unless given; every other value is typed at the prompts.
      const session = startPty([BIN, 'config', 'init', '--out', out, '--signature-secret', SECRET]);
      try {
        await session.answer(/Upstream Mender server URL/, 'https://mender.example.com');
        // A typo in a path: refused at the prompt (with the reason), asked again, not fatal.
        await session.answer(/private CA/, join(folder, 'no-such-ca.pem'));
        await session.waitFor(/does not exist/);
        // Ctrl-U clears the refused answer @inquirer leaves on the line; Enter: the system CAs.
        session.send('\x15\r');
        await session.answer(/DNS name devices use/, 'gateway.site.test');
        await session.answer(/IP address devices use/, 'fd00::1');
        await session.answer(/HTTPS port/, '8443');
        await session.answer(/TLS certificate of the gateway/, ''); // the default: create
        await session.answer(/Directory for the CA/, '');
        // The CA key question has a default under $HOME: replace it.
        await session.waitFor(/File for the CA private key/);
        session.send(`\x15${join(dir, 'pty-offline/ca.key')}\r`);
        await session.answer(/artifacts proxy/, 'y');
        await session.answer(/Storage host names/, '');
        await session.answer(/Cache artifacts on disk/, 'y');
        await session.answer(/Cache directory/, join(dir, 'cache'));
        await session.answer(/mTLS/, 'y');
        await session.answer(/CA certificate that signs the device certificates/, '');
        await session.answer(/Mender user/, 'gw@example.com');
        await session.answer(/Password of/, 's3cret');
        await session.answer(/Device System/, 'y');
        await session.answer(/System ID/, 'ward-7');
        await session.answer(/Group of the service user/, '');
        await session.waitFor(/summary:/);
        await session.answer(/Write this configuration\?/, 'y');
        expect(await session.exitCode).toBe(0);
      } finally {
        session.kill();
      }
      expect(session.output()).not.toContain('s3cret');
      expect(session.output()).not.toContain(SECRET);
      expect(await normalized(out, folder)).toBe(
        await normalized(join(dir, 'flags/mender-gateway.conf'), join(dir, 'flags')),
      );

      // The printed --no-prompt line, run with the secrets in the environment, writes the same file.
      const line = /the same configuration without questions:\r?\n\s*(.+?)\r?\n/.exec(session.output())?.[1];
      expect(line).toMatch(
        /^ARTIFACTS_PROXY_CACHE_SECRET=… MTLS_MENDER_PASSWORD=… mender-gw config init --no-prompt /,
      );
      const replayed = await fresh('pty-replay');
      const command = (line ?? '')
        .replace(/^(?:[A-Z_]+=… )+mender-gw /, '')
        .split(folder)
        .join(replayed)
        .split(join(dir, 'pty-offline'))
        .join(join(dir, 'pty-replay-offline'));
      const replay = await runShell(`'${process.execPath}' '${BIN}' ${command}`, {
        MTLS_MENDER_PASSWORD: 's3cret',
        ARTIFACTS_PROXY_CACHE_SECRET: SECRET,
      });
      expect(replay.stderr).toBe('');
      expect(replay.code).toBe(0);
      expect(await normalized(join(replayed, 'mender-gateway.conf'), replayed)).toBe(
        await normalized(out, folder),
      );

      // "n" at the summary: nothing written, exit 1.
      const declined = await fresh('pty-declined');
      const no = startPty([
        BIN,
        'config',
        'init',
        '--out',
        join(declined, 'gw.conf'),
        '--upstream-url',
        'https://mender.example.com',
        '--gateway-name',
        'gateway.site.test',
        '--gateway-ip',
        '10.0.0.1',
        '--https-port',
        '443',
        '--create-certs',
        '--cert-dir',
        join(declined, 'pki'),
        '--ca-key-out',
        join(dir, 'declined-offline/ca.key'),
        '--no-enable-cache',
        '--no-mtls',
      ]);
      try {
        await no.answer(/private CA/, '');
        await no.answer(/artifacts proxy/, 'y');
        await no.answer(/Storage host names/, '');
        await no.answer(/Device System/, 'n');
        await no.answer(/Group of the service user/, '');
        await no.waitFor(/summary:/);
        await no.answer(/Write this configuration\?/, 'n');
        expect(await no.exitCode).toBe(1);
      } finally {
        no.kill();
      }
      expect(no.output()).toContain('nothing written');
      expect(await readdir(declined)).toEqual([]);
      expect(existsSync(join(dir, 'declined-offline'))).toBe(false);

      const aborted = await fresh('pty-abort');
      const abort = startPty([BIN, 'config', 'init', '--out', join(aborted, 'gw.conf')]);
      try {
        await abort.answer(/Upstream Mender server URL/, 'https://mender.example.com');
        await abort.waitFor(/private CA/);
        abort.send('\x03');
        expect(await abort.exitCode).toBe(130);
      } finally {
        abort.kill();
      }
      expect(abort.output()).toContain('aborted, nothing written');
      expect(abort.output()).not.toMatch(/ExitPromptError|\n\s+at /);
      expect(await readdir(aborted)).toEqual([]);
    });
  });
});

function runShell(command: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], {
      env: { PATH: process.env.PATH, HOME: dir, CI: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

interface PtySession {
  /** Wait for `prompt` (after everything already matched), then type `text` and Enter. */
  answer(prompt: RegExp, text: string): Promise<void>;
  waitFor(prompt: RegExp): Promise<void>;
  send(bytes: string): void;
  exitCode: Promise<number | null>;
  output(): string;
  kill(): void;
}

/**
 * Run `node <args>` on a pseudo-terminal through util-linux `script`, so stdin and stdout are
 * TTYs as for an operator. `stty cols 500` keeps prompt lines from wrapping.
 */
function startPty(args: string[]): PtySession {
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NO_COLOR: '1', HOME: dir };
  delete env.CI;
  const child = spawn('script', ['-qfec', `stty cols 500 rows 50; exec ${quoted}`, '/dev/null'], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let text = '';
  let cursor = 0;
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const exitCode = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (prompt: RegExp): Promise<void> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const match = prompt.exec(text.slice(cursor));
      if (match !== null) {
        cursor += match.index + match[0].length;
        return;
      }
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`no prompt ${String(prompt)}; terminal output so far:\n${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return {
    waitFor,
    async answer(prompt, value) {
      await waitFor(prompt);
      child.stdin.write(`${value}\r`);
    },
    send: (bytes) => child.stdin.write(bytes),
    exitCode,
    output: () => text,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
