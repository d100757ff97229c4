import { randomUUID } from 'node:crypto';
import { canonicalIdentity } from './identity.js';
import type { JwtIssuer } from './jwt.js';
import type { AuthSetStatus, FakeAuthSet, FakeDevice, FakeState } from './state.js';

export type AuthOutcome =
  { kind: 'token'; token: string; device: FakeDevice } | { kind: 'unauthorized'; device: FakeDevice };

export type PreauthOutcome =
  { kind: 'created'; device: FakeDevice } | { kind: 'conflict'; device: FakeDevice };

interface IssuedToken {
  deviceId: string;
  authSetId: string;
  revoked: boolean;
}

const STATUS_RANK: Record<AuthSetStatus, number> = { accepted: 3, preauthorized: 2, pending: 1, rejected: 0 };

/**
 * deviceauth's data model in memory: devices keyed by canonical identity, each with auth sets
 * (identity + key), and the device tokens it issued. Semantics follow docs/protocol.md §3.5
 * (`SubmitAuthRequest`, `PreauthorizeDevice`, `updateAuthSetStatus`): accepting one set rejects
 * the device's other accepted sets, and rejecting a set revokes the tokens issued for it.
 */
export class DeviceRegistry {
  readonly #state: FakeState;
  readonly #jwt: JwtIssuer;
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #issuer = 'Mender';

  constructor(
    state: FakeState,
    jwt: JwtIssuer,
    private readonly options: { autoAccept: boolean; jwtLifetimeSeconds: number; tenantId: string },
  ) {
    this.#state = state;
    this.#jwt = jwt;
  }

  byIdentity(identity: Record<string, unknown>): FakeDevice | undefined {
    const key = canonicalIdentity(identity);
    return this.#state.devices.find((d) => d.identityKey === key);
  }

  /** A device by id, or by the `mac` of its identity (what tests usually know). */
  find(idOrMac: string): FakeDevice | undefined {
    return this.#state.devices.find((d) => d.id === idOrMac || d.identity.mac === idOrMac);
  }

  #get(idOrMac: string): FakeDevice {
    const device = this.find(idOrMac);
    if (device === undefined) throw new Error(`fake upstream: no device ${idOrMac}`);
    return device;
  }

  #create(identity: Record<string, unknown>): FakeDevice {
    const device: FakeDevice = {
      id: randomUUID(),
      identity,
      identityKey: canonicalIdentity(identity),
      status: 'pending',
      authSets: [],
      createdAt: new Date(),
      lastProvides: undefined,
    };
    this.#state.devices.push(device);
    return device;
  }

  #addSet(
    device: FakeDevice,
    pubkey: string,
    status: AuthSetStatus,
    source: FakeAuthSet['source'],
  ): FakeAuthSet {
    const set: FakeAuthSet = {
      id: randomUUID(),
      deviceId: device.id,
      pubkey,
      status,
      createdAt: new Date(),
      source,
    };
    device.authSets.push(set);
    return set;
  }

  #setStatus(device: FakeDevice, set: FakeAuthSet, status: AuthSetStatus): void {
    set.status = status;
    if (status === 'accepted') {
      // Only one accepted set per device (docs/protocol.md §3.5, MEN-9058).
      for (const other of device.authSets) {
        if (other !== set && other.status === 'accepted') {
          other.status = 'rejected';
          this.#revokeSet(other.id);
        }
      }
    }
    if (status === 'rejected') this.#revokeSet(set.id);
    this.#refresh(device);
  }

  #refresh(device: FakeDevice): void {
    let best: AuthSetStatus = 'rejected';
    for (const set of device.authSets) if (STATUS_RANK[set.status] > STATUS_RANK[best]) best = set.status;
    device.status = device.authSets.length === 0 ? 'pending' : best;
  }

  #revokeSet(authSetId: string): void {
    for (const token of this.#tokens.values()) if (token.authSetId === authSetId) token.revoked = true;
  }

  #issueToken(device: FakeDevice, set: FakeAuthSet): string {
    const iat = Math.floor(Date.now() / 1000);
    const token = this.#jwt.issue({
      jti: set.id,
      sub: device.id,
      iss: this.#issuer,
      iat,
      exp: iat + this.options.jwtLifetimeSeconds,
      'mender.device': true,
      // Open-source servers (no tenant) leave the tenant claim out.
      ...(this.options.tenantId === '' ? {} : { 'mender.tenant': this.options.tenantId }),
    });
    this.#tokens.set(token, { deviceId: device.id, authSetId: set.id, revoked: false });
    return token;
  }

  /** `SubmitAuthRequest`: signature already verified by the caller. */
  submitAuthRequest(identity: Record<string, unknown>, pubkey: string): AuthOutcome {
    const device = this.byIdentity(identity) ?? this.#create(identity);
    let set = device.authSets.find((s) => s.pubkey === pubkey);
    if (set === undefined) {
      set = this.#addSet(device, pubkey, 'pending', 'auth_request');
      this.#refresh(device);
    }
    if (set.status === 'preauthorized') this.#setStatus(device, set, 'accepted');
    if (set.status === 'pending' && this.options.autoAccept) this.#setStatus(device, set, 'accepted');
    if (set.status === 'accepted') return { kind: 'token', token: this.#issueToken(device, set), device };
    return { kind: 'unauthorized', device };
  }

  /** `POST /api/management/v2/devauth/devices` semantics (docs/protocol.md §3.5). */
  preauthorize(identity: Record<string, unknown>, pubkey: string, force: boolean): PreauthOutcome {
    const existing = this.byIdentity(identity);
    if (existing !== undefined && !force) return { kind: 'conflict', device: existing };
    const device = existing ?? this.#create(identity);
    const set =
      device.authSets.find((s) => s.pubkey === pubkey) ??
      this.#addSet(device, pubkey, 'preauthorized', 'preauthorize');
    // Forcing keeps tokens already issued for the set valid: deviceauth only drops tokens on reject.
    set.status = 'preauthorized';
    this.#refresh(device);
    return { kind: 'created', device };
  }

  /** Operator accepts the device's newest pending (else newest non-accepted) auth set. */
  accept(idOrMac: string): FakeDevice {
    const device = this.#get(idOrMac);
    const newestFirst = [...device.authSets].reverse();
    const set =
      newestFirst.find((s) => s.status === 'pending') ?? newestFirst.find((s) => s.status !== 'accepted');
    if (set !== undefined) this.#setStatus(device, set, 'accepted');
    return device;
  }

  /** Operator rejects every auth set of the device; its tokens stop working at once. */
  reject(idOrMac: string): FakeDevice {
    const device = this.#get(idOrMac);
    for (const set of device.authSets) this.#setStatus(device, set, 'rejected');
    return device;
  }

  /** Invalidate every token issued so far for the device (forces re-authentication). */
  revokeTokens(idOrMac: string): void {
    const device = this.#get(idOrMac);
    for (const token of this.#tokens.values()) if (token.deviceId === device.id) token.revoked = true;
  }

  /**
   * The device behind a bearer token: signed by us, not expired, a device token, still on record
   * and not revoked (deviceauth checks its token store, so rejected devices are cut off at once).
   */
  authenticate(token: string | undefined): FakeDevice | undefined {
    if (token === undefined) return undefined;
    const claims = this.#jwt.verify(token);
    if (claims?.['mender.device'] !== true) return undefined;
    const issued = this.#tokens.get(token);
    if (issued === undefined || issued.revoked) return undefined;
    return this.#state.devices.find((d) => d.id === issued.deviceId);
  }
}
