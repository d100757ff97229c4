import { execFileSync } from 'node:child_process';

/**
 * Tests that mount a small filesystem need root. They skip with a printed reason
 * elsewhere, and fail instead when MGW_REQUIRE_PRIVILEGED=1 (CI runs as root).
 */
export function privilegedSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'not running as root (mounting a tmpfs needs it)' };
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return { ok: true };
  } catch {
    return { ok: false, reason: 'the mount command is not available' };
  }
}

export const privilegedRequired = process.env.MGW_REQUIRE_PRIVILEGED === '1';

export function mountTmpfs(dir: string, sizeBytes: number): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0750`, 'mgw-test-cache', dir]);
}

export function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir]);
}

/**
 * Tests that build their own network (namespaces, a bridge, veth pairs) need root and iproute2,
 * plus the `tools` they run inside it. Same skip/fail rule as above (MGW_REQUIRE_PRIVILEGED=1).
 */
export function networkNamespaceSupport(tools: string[] = []): { ok: true } | { ok: false; reason: string } {
  if (process.getuid?.() !== 0)
    return { ok: false, reason: 'not running as root (network namespaces and a bridge need it)' };
  for (const tool of ['ip', ...tools]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return { ok: false, reason: `${tool} not found on PATH (scripts/test.sh installs it)` };
    }
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return { ok: true };
  } catch {
    return { ok: false, reason: '`ip netns list` failed: no network namespace support here' };
  }
}
