import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import type { SerialBlacklist } from './serial-blacklist.js';

export type PeerVerdict =
  | { ok: true; serial: string; subject: string; expiredAccepted: boolean }
  | { ok: false; reason: string; serial?: string };

export interface PeerPolicy {
  blacklist: SerialBlacklist | undefined;
  /** `MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER`: accept a leaf past its NotAfter (protocol doc §3.3). */
  skipExpiry: boolean;
}

function issuerChain(socket: TLSSocket): X509Certificate[] {
  // The chain as OpenSSL built it: leaf, then issuers up to the trust anchor.
  const chain: X509Certificate[] = [];
  // Node's types say `raw` and `issuerCertificate` are always there; at the end of a chain, or
  // without a certificate, they are missing or the issuer points back to itself.
  let current = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate> | undefined;
  const seen = new Set<string>();
  while (current?.raw !== undefined && current.raw.length > 0 && current.fingerprint256 !== undefined && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/**
 * Accept a leaf whose only fault is its NotAfter date: every signature in the chain verifies,
 * every issuer is a CA and within its own validity, and the leaf's NotBefore has passed.
 * OpenSSL reports a single error, so `CERT_HAS_EXPIRED` alone is not proof the rest is good.
 */
function onlyLeafExpired(socket: TLSSocket, now: Date): boolean {
  const chain = issuerChain(socket);
  const leaf = chain[0];
  if (leaf === undefined || chain.length < 2) return false;
  if (new Date(leaf.validFrom) > now) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i];
    const issuer = chain[i + 1];
    if (child === undefined || issuer === undefined) return false;
    if (!issuer.ca || !child.checkIssued(issuer) || !child.verify(issuer.publicKey)) return false;
    if (new Date(issuer.validFrom) > now || new Date(issuer.validTo) < now) return false;
  }
  return new Date(leaf.validTo) < now;
}

/**
 * Is this TLS connection a device with a valid client certificate (protocol doc §3.3)?
 * Checked on every request and upgrade, not only at the handshake: with TLS 1.3 session
 * resumption Node can report `authorized` for a connection that never sent a certificate
 * (style doc C6b), and the blacklist may have changed since the handshake.
 */
export function checkPeer(socket: TLSSocket, policy: PeerPolicy, now = new Date()): PeerVerdict {
  // Without a certificate Node returns `{}` here, whatever its types say.
  const raw = socket.getPeerCertificate() as Partial<PeerCertificate>;
  const leaf = socket.getPeerX509Certificate();
  if (leaf === undefined || raw.raw === undefined || raw.raw.length === 0) return { ok: false, reason: 'no client certificate' };
  let expiredAccepted = false;
  if (!socket.authorized) {
    const error = String(socket.authorizationError);
    if (!(policy.skipExpiry && error === 'CERT_HAS_EXPIRED' && onlyLeafExpired(socket, now))) {
      return { ok: false, reason: `client certificate not trusted (${error})`, serial: leaf.serialNumber };
    }
    expiredAccepted = true;
  }
  if (policy.blacklist?.has(leaf.serialNumber) === true) {
    return { ok: false, reason: `client certificate serial ${leaf.serialNumber} is blacklisted`, serial: leaf.serialNumber };
  }
  return { ok: true, serial: leaf.serialNumber, subject: leaf.subject.replace(/\n/g, ', '), expiredAccepted };
}
