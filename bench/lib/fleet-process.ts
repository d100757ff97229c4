import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { FleetReply, FleetRequest, FleetRunResult, FleetRunSpec } from '../client/fleet-devices.js';
import { REPO_ROOT } from './servers.js';

type Call =
  | { kind: 'create'; devices: number; macPrefix: string }
  | { kind: 'run'; spec: FleetRunSpec }
  | { kind: 'jwts' };

/** The simulated fleet in its own process (bench/client/fleet-devices.ts). */
export interface FleetProcess {
  pid: number;
  create(devices: number, macPrefix: string, timeoutMs: number): Promise<{ keyMs: number }>;
  run(spec: FleetRunSpec, timeoutMs: number): Promise<FleetRunResult>;
  /** The devices' current JWTs ('' for a device that has none). */
  jwts(timeoutMs: number): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Fork the fleet process. It inherits this process's CPU affinity: with pinning, the load core,
 * next to the fake upstream. Every call has a deadline, so a stuck fleet ends the bench instead
 * of hanging it; the process exits when this one disconnects.
 */
export function startFleetProcess(): FleetProcess {
  const child = fork(join(REPO_ROOT, 'bench', 'client', 'fleet-devices.ts'), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const call of pending.values()) call.reject(new Error(`fleet process exited (${code ?? signal})`));
      pending.clear();
      resolve();
    });
  });
  child.on('error', (error) => {
    for (const call of pending.values()) call.reject(new Error(`fleet process: ${error.message}`));
    pending.clear();
  });
  child.on('message', (reply: FleetReply) => {
    const call = pending.get(reply.id);
    if (call === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) call.resolve(reply.value);
    else call.reject(new Error(`fleet process: ${reply.error}`));
  });

  const call = <T>(request: Call, timeoutMs: number): Promise<T> => {
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`fleet process: ${request.kind} did not finish within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      child.send({ id, ...request } satisfies FleetRequest);
    });
  };

  return {
    pid: child.pid!,
    create: (devices, macPrefix, timeoutMs) => call({ kind: 'create', devices, macPrefix }, timeoutMs),
    run: (spec, timeoutMs) => call({ kind: 'run', spec }, timeoutMs),
    jwts: (timeoutMs) => call({ kind: 'jwts' }, timeoutMs),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      // It exits on disconnect; if it does not within 5 s (a run still in flight), stop it.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
