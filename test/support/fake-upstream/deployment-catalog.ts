import { createHash, randomUUID } from 'node:crypto';
import type { DeviceDeploymentStatus, FakeArtifact, FakeDeployment, FakeDevice, FakeState } from './state.js';

/** Device-deployment states after which deployments stops handing the deployment out. */
const FINISHED: ReadonlySet<DeviceDeploymentStatus> = new Set([
  'success',
  'failure',
  'already-installed',
  'noartifact',
  'aborted',
]);

/** Status values a device may report (docs/protocol.md §2.2). */
export const REPORTABLE_STATUSES: ReadonlySet<string> = new Set([
  'installing',
  'pause_before_installing',
  'downloading',
  'pause_before_rebooting',
  'rebooting',
  'pause_before_committing',
  'success',
  'failure',
  'already-installed',
]);

export type NextDecision =
  { kind: 'none' } | { kind: 'deployment'; deployment: FakeDeployment; artifact: FakeArtifact };

/** Artifacts and deployments, with the selection rules of deployments' `GetDeploymentForDeviceWithCurrent`. */
export class DeploymentCatalog {
  constructor(private readonly state: FakeState) {}

  addArtifact(a: { name: string; deviceTypes: string[]; data: Buffer; id?: string }): FakeArtifact {
    const artifact: FakeArtifact = {
      id: a.id ?? randomUUID(),
      name: a.name,
      deviceTypes: [...a.deviceTypes],
      size: a.data.length,
      sha256: createHash('sha256').update(a.data).digest('hex'),
      etag: `"${createHash('md5').update(a.data).digest('hex')}"`,
      createdAt: new Date(),
      data: a.data,
    };
    this.state.artifacts.push(artifact);
    return artifact;
  }

  artifact(id: string): FakeArtifact | undefined {
    return this.state.artifacts.find((a) => a.id === id);
  }

  createDeployment(d: { artifactId: string; deviceIds?: string[]; configuration?: boolean }): FakeDeployment {
    const artifact = this.artifact(d.artifactId);
    if (artifact === undefined) throw new Error(`fake upstream: no artifact ${d.artifactId}`);
    const deployment: FakeDeployment = {
      id: randomUUID(),
      artifactId: artifact.id,
      artifactName: artifact.name,
      deviceIds: d.deviceIds === undefined ? 'all' : [...d.deviceIds],
      createdAt: new Date(),
      aborted: false,
      configuration: d.configuration ?? false,
      devices: new Map(),
    };
    this.state.deployments.push(deployment);
    return deployment;
  }

  deployment(id: string): FakeDeployment | undefined {
    return this.state.deployments.find((d) => d.id === id);
  }

  /** Abort: unfinished devices become `aborted`; further status reports get 409. */
  abort(id: string): FakeDeployment {
    const deployment = this.deployment(id);
    if (deployment === undefined) throw new Error(`fake upstream: no deployment ${id}`);
    deployment.aborted = true;
    for (const [deviceId, status] of deployment.devices)
      if (!FINISHED.has(status)) deployment.devices.set(deviceId, 'aborted');
    return deployment;
  }

  targets(deployment: FakeDeployment, device: FakeDevice): boolean {
    if (deployment.deviceIds === 'all') return device.status === 'accepted';
    const mac = device.identity.mac;
    return (
      deployment.deviceIds.includes(device.id) ||
      (typeof mac === 'string' && deployment.deviceIds.includes(mac))
    );
  }

  /**
   * The oldest unfinished deployment for the device. As in deployments, if the device already
   * runs that artifact the device deployment becomes `already-installed`, and if no artifact fits
   * its device type it becomes `noartifact` — both answered with 204 (docs/protocol.md §2.2).
   */
  next(device: FakeDevice, installedArtifact: string, deviceType: string): NextDecision {
    const deployment = this.state.deployments.find((d) => {
      if (d.aborted || !this.targets(d, device)) return false;
      const status = d.devices.get(device.id);
      return status === undefined || !FINISHED.has(status);
    });
    if (deployment === undefined) return { kind: 'none' };
    const artifact = this.artifact(deployment.artifactId);
    if (installedArtifact === deployment.artifactName) {
      deployment.devices.set(device.id, 'already-installed');
      return { kind: 'none' };
    }
    if (artifact === undefined || !artifact.deviceTypes.includes(deviceType)) {
      deployment.devices.set(device.id, 'noartifact');
      return { kind: 'none' };
    }
    if (!deployment.devices.has(device.id)) deployment.devices.set(device.id, 'pending');
    return { kind: 'deployment', deployment, artifact };
  }
}
