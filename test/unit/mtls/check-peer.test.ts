import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { checkPeer } from '../../../src/core/mtls/client-certificate-check.js';
import type { PeerPolicy } from '../../../src/core/mtls/client-certificate-check.js';
import { SerialBlacklist } from '../../../src/core/mtls/serial-blacklist.js';
import { expiredValidity, issueFixture } from './x509-fixtures.js';
import type { FixtureCert } from './x509-fixtures.js';

interface FakePeer {
  raw: Buffer;
  fingerprint256: string;
  issuerCertificate?: FakePeer;
}

/** What checkPeer reads from a TLS socket, as Node fills it in on a server. */
function fakeSocket(options: {
  authorized: boolean;
  authorizationError?: string;
  /** Leaf first; `null` = the socket is already destroyed; `[]` = no certificate. */
  chain: FixtureCert[] | null;
}): TLSSocket {
  const { chain } = options;
  const peers: FakePeer[] = (chain ?? []).map((c) => ({
    raw: c.cert.raw,
    fingerprint256: c.cert.fingerprint256,
  }));
  peers.forEach((p, i) => (p.issuerCertificate = peers[i + 1] ?? p));
  return {
    authorized: options.authorized,
    authorizationError: options.authorizationError,
    getPeerCertificate: (detailed?: boolean) => {
      if (chain === null) return null;
      const leaf = peers[0];
      if (leaf === undefined) return {};
      return detailed === true ? leaf : { raw: leaf.raw, fingerprint256: leaf.fingerprint256 };
    },
  } as unknown as TLSSocket;
}

describe('checkPeer', () => {
  let root: FixtureCert;
  let leaf: FixtureCert;
  let expired: FixtureCert;
  let dir: string;
  let policy: PeerPolicy;

  beforeAll(async () => {
    root = await issueFixture('device root');
    leaf = await issueFixture('02:00:00:00:00:01', { issuer: root, ca: false });
    expired = await issueFixture('02:00:00:00:00:02', { issuer: root, ca: false, ...expiredValidity() });
    dir = await mkdtemp(join(tmpdir(), 'mgw-check-peer-'));
    await writeFile(join(dir, 'blacklist'), '');
    policy = {
      blacklist: (await SerialBlacklist.load(join(dir, 'blacklist'))).blacklist,
      skipExpiry: false,
      anchors: [root.cert],
    };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('admits a verified certificate and reports its serial and subject', () => {
    expect(checkPeer(fakeSocket({ authorized: true, chain: [leaf, root] }), policy)).toEqual({
      ok: true,
      serial: leaf.serial,
      subject: 'CN=02:00:00:00:00:01',
      expiredAccepted: false,
    });
  });

  it('refuses an "authorized" connection without a certificate (TLS 1.3 resumption, docs/decisions.md §11)', () => {
    expect(checkPeer(fakeSocket({ authorized: true, chain: [] }), policy)).toEqual({
      ok: false,
      reason: 'no client certificate',
    });
  });

  it('refuses, without throwing, a socket that is already destroyed', () => {
    expect(checkPeer(fakeSocket({ authorized: true, chain: null }), policy)).toMatchObject({ ok: false });
  });

  it('refuses what OpenSSL did not verify', () => {
    const verdict = checkPeer(
      fakeSocket({
        authorized: false,
        authorizationError: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
        chain: [leaf],
      }),
      policy,
    );
    expect(verdict).toMatchObject({ ok: false, serial: leaf.serial });
    expect(!verdict.ok && verdict.reason).toMatch(/not trusted \(UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)/);
  });

  it('refuses an expired certificate unless InsecureSkipClientExpireAfter is on', () => {
    const socket = (): TLSSocket =>
      fakeSocket({ authorized: false, authorizationError: 'CERT_HAS_EXPIRED', chain: [expired, root] });
    expect(checkPeer(socket(), policy)).toMatchObject({ ok: false });
    expect(checkPeer(socket(), { ...policy, skipExpiry: true })).toMatchObject({
      ok: true,
      serial: expired.serial,
      expiredAccepted: true,
    });
    // Another verification error is never waved through.
    expect(
      checkPeer(
        fakeSocket({
          authorized: false,
          authorizationError: 'CERT_SIGNATURE_FAILURE',
          chain: [expired, root],
        }),
        { ...policy, skipExpiry: true },
      ),
    ).toMatchObject({
      ok: false,
    });
  });

  it('refuses a blacklisted serial on every check, with the serial in the verdict', async () => {
    await writeFile(join(dir, 'blacklist'), `${leaf.serial.toLowerCase()}\n`);
    await policy.blacklist!.reload();
    try {
      const verdict = checkPeer(fakeSocket({ authorized: true, chain: [leaf, root] }), policy);
      expect(verdict).toMatchObject({ ok: false, serial: leaf.serial });
      expect(!verdict.ok && verdict.reason).toMatch(/blacklisted/);
    } finally {
      await writeFile(join(dir, 'blacklist'), '# nothing revoked\n');
      await policy.blacklist!.reload();
    }
  });
});
