import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MENDER_ETC_DIR, MENDER_SHARE_DIR } from './constants.js';
import { findBinary } from './find-binary.js';
import { shQuote } from './shell-quote.js';

export type MenderClientSupport = { ok: true } | { ok: false; reason: string };

let cached: MenderClientSupport | undefined;

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The bind mount the harness relies on, tried for real: `unshare` alone can succeed where
 * `mount` inside the new namespace is still denied (e.g. containers without CAP_SYS_ADMIN).
 */
function probeBindMount(): string | undefined {
  const base = mkdtempSync(join(tmpdir(), 'mgw-mender-probe-'));
  try {
    const source = join(base, 'source');
    const target = join(base, 'target');
    mkdirSync(source);
    mkdirSync(target);
    writeFileSync(join(source, 'marker'), 'x');
    const script = `mount --bind ${shQuote(source)} ${shQuote(target)} && test -f ${shQuote(join(target, 'marker'))}`;
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (result.error !== undefined) return `unshare failed to run: ${result.error.message}`;
    if (result.status !== 0) {
      return `unshare --mount with a bind mount failed (status ${String(result.status)}): ${result.stderr.trim()}`;
    }
    return undefined;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

function probe(): MenderClientSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux, not ${process.platform}` };
  for (const binary of ['mender', 'mender-artifact', 'unshare', 'setpriv', 'mount']) {
    if (findBinary(binary) === undefined) {
      return {
        ok: false,
        reason: `${binary} not found on PATH (apt-get install mender-client mender-artifact)`,
      };
    }
  }
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'needs root for unshare --mount and bind mounts' };
  // Mount points must already exist: the harness never creates anything outside its temp dirs.
  for (const dir of [MENDER_ETC_DIR, MENDER_SHARE_DIR]) {
    if (!isDirectory(dir))
      return { ok: false, reason: `${dir} does not exist (is mender-client installed?)` };
  }
  const mountProblem = probeBindMount();
  if (mountProblem !== undefined) return { ok: false, reason: mountProblem };
  return { ok: true };
}

/** Whether real Mender client devices can run here; probed once per process, then cached. */
export function menderClientSupport(): MenderClientSupport {
  cached ??= probe();
  return cached;
}
