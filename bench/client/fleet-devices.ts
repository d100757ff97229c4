/**
 * Load-generator process for Fleet: the simulated devices of test/support/fleet.ts, in their own
 * process so that they never share an event loop with the fake upstream (in the orchestrator).
 * Sharing one made the fake upstream's 3 s request-body idle timer fire while the loop was busy
 * with 200 devices' downloads: spurious 400s and a p99 cycle of ~13 s, artefacts of the harness.
 *
 * Started by bench/lib/fleet-process.ts with `fork` (IPC channel), it keeps one fleet (keys,
 * JWTs, installed artifact) across runs and answers one request at a time; it exits when the
 * parent disconnects.
 */
import { createFleet, runFleet } from '../../test/support/fleet.js';
import type { FleetDevice, FleetResult } from '../../test/support/fleet.js';

export interface FleetRunSpec {
  baseUrl: string;
  ca: string;
  concurrency: number;
  deviceType: string;
  /** The artifact the run deploys and its SHA-256 (a mismatch is a device error); none for a warm-up. */
  artifact?: { name: string; sha256: string };
  interruptEvery?: number;
  /** Only the first n devices (a warm-up); default all. */
  devices?: number;
}

export type FleetRequest =
  | { id: number; kind: 'create'; devices: number; macPrefix: string }
  | { id: number; kind: 'run'; spec: FleetRunSpec }
  | { id: number; kind: 'jwts' };

/** A run's result without the devices (key objects do not cross the IPC channel). */
export type FleetRunResult = Omit<FleetResult, 'fleet'> & { cpuSeconds: number };

export type FleetReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

let fleet: FleetDevice[] = [];

async function handle(request: FleetRequest): Promise<unknown> {
  switch (request.kind) {
    case 'create': {
      const created = await createFleet(request.devices, { macPrefix: request.macPrefix });
      fleet = created.fleet;
      return { keyMs: created.keyMs };
    }
    case 'run': {
      const { spec } = request;
      const artifact = spec.artifact;
      const cpu0 = process.cpuUsage();
      // runFleet updates the devices in place (JWT, installed artifact): the fleet carries over.
      const { fleet: _devices, ...result } = await runFleet({
        baseUrl: spec.baseUrl,
        ca: spec.ca,
        devices: spec.devices === undefined ? fleet : fleet.slice(0, spec.devices),
        concurrency: spec.concurrency,
        deviceType: spec.deviceType,
        ...(artifact === undefined
          ? {}
          : { expectedSha256: (name: string) => (name === artifact.name ? artifact.sha256 : undefined) }),
        ...(spec.interruptEvery === undefined ? {} : { interruptEvery: spec.interruptEvery }),
      });
      const cpu = process.cpuUsage(cpu0);
      return { ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 } satisfies FleetRunResult;
    }
    case 'jwts':
      return fleet.map((d) => d.device.jwt ?? '');
  }
}

process.on('message', (message: FleetRequest) => {
  handle(message).then(
    (value) => process.send!({ id: message.id, ok: true, value } satisfies FleetReply),
    (error: unknown) =>
      process.send!({
        id: message.id,
        ok: false,
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      } satisfies FleetReply),
  );
});
process.on('disconnect', () => process.exit(0));
