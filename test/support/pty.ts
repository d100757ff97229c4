import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Run the built `mender-gw` in a real pseudo-terminal with util-linux `script`, so stdin,
 * stdout and stderr are all terminals (nothing is mocked), at a chosen width. Output of
 * stdout and stderr arrives merged, as on a screen, with CRLF line ends.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin/run.js');

/** Why `script` cannot be used here, or undefined when it can. */
export function ptyUnavailable(): string | undefined {
  const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `util-linux script is not installed (${probe.error.message})`;
  if (!/util-linux/.test(`${probe.stdout}${probe.stderr}`)) return 'script is not the util-linux one';
  return undefined;
}

const quote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/** The environment of a person at a terminal: no CI, a real TERM, no COLUMNS override. */
export function terminalEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', ...extra };
  delete env.CI;
  delete env.COLUMNS;
  delete env.NO_COLOR;
  return env;
}

export interface PtyRun {
  output: string;
  code: number | null;
}

/**
 * `mender-gw args…` in a `columns`-wide terminal. `answer`: once the output matches `when`,
 * type `send` (an awaited event, not a delay).
 */
export function runInPty(
  args: readonly string[],
  options: {
    columns?: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    answer?: { when: RegExp; send: string };
  } = {},
): Promise<PtyRun> {
  const command = `stty cols ${options.columns ?? 80} rows 40; exec ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: options.cwd,
    env: options.env ?? terminalEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let answered = options.answer === undefined;
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (output += chunk));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (!answered && options.answer !== undefined && options.answer.when.test(output)) {
        answered = true;
        child.stdin.write(options.answer.send);
      }
    });
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ output, code });
    });
  });
}

const ESC = String.fromCharCode(0x1b);

/** Cursor movement and line erasing: what drawing a progress line or spinner writes. */
export const DRAWING = new RegExp(`${ESC}\\[(?:\\d*[ABGJK]|2K)`);

/** The output without escape sequences and carriage returns, as lines. */
export function screenLines(output: string): string[] {
  return output
    .replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '')
    .replaceAll('\r', '')
    .split('\n');
}
