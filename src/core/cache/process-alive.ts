import { errnoCode } from '../file-errors.js';

/** Whether a process with this PID exists (signal 0 probes without signalling). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errnoCode(err) === 'EPERM';
  }
}
