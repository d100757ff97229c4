import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import type { SerialBlacklist } from './serial-blacklist.js';

export type PeerVerdict =
  | { ok: true; serial: string; subject: string; expiredAccepted: boolean }
  | { ok: false; reason: string; serial?: string };

export interface PeerPolicy {
  blacklist: SerialBlacklist | undefined;
  /** `MTLS_INSECURE_SKIP_CLIENT_EXPIRE_AFTER`: accept a leaf past its NotAfter, and nothing else (docs/mtls.md). */
  skipExpiry: boolean;
  /**
   * The certificates of `Features.mTLS.CACertificate`, each one a trust anchor (like Go, and like the
   * listener's `allowPartialTrustChain`). Only used when OpenSSL's own verdict is set aside for an
   * expired leaf: then the chain must be rebuilt to one of these, never to a CA the device sent.
   */
  anchors: readonly X509Certificate[];
}

function presentedChain(socket: TLSSocket): X509Certificate[] {
  // The leaf, then what the device sent and Node could order behind it (issuers up to a root).
  // These are the device's claims, not a verified path: only `anchors` are trusted.
  const chain: X509Certificate[] = [];
  // Node's types say `raw` and `issuerCertificate` are always there; at the end of a chain, or
  // without a certificate, they are missing or the issuer points back to itself.
  let current = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate> | undefined;
  const seen = new Set<string>();
  while (
    current?.raw !== undefined &&
    current.raw.length > 0 &&
    current.fingerprint256 !== undefined &&
    !seen.has(current.fingerprint256)
  ) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && new Date(cert.validTo) >= now;
}

function signedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  return issuer.ca && child.checkIssued(issuer) && child.verify(issuer.publicKey);
}

/** id-kp-clientAuth (RFC 5280 §4.2.1.12). */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * May this certificate take part in TLS client authentication? An extended key usage, when
 * present, must list clientAuth, on the leaf and on every CA of the path, as OpenSSL's
 * "sslclient" purpose demands during the handshake (anyExtendedKeyUsage alone is not enough
 * there either). Node's `keyUsage` property holds the extended key usage OIDs, or `undefined`
 * without the extension.
 */
export function allowsClientAuth(cert: X509Certificate): boolean {
  const usages = cert.keyUsage as string[] | undefined;
  return usages === undefined || usages.includes(CLIENT_AUTH);
}

/** The longest chain walked when looking for an anchor (leaf + intermediates); real ones are 2–4. */
const MAX_CHAIN = 8;

/**
 * Accept a leaf whose only fault is its NotAfter date: it has expired, its NotBefore has passed,
 * its purpose allows client authentication, and it chains — through CA certificates the device
 * sent, each within its validity and allowing client authentication — to one of the configured
 * anchors, every signature verifying. OpenSSL reports a single error (its last), so
 * `CERT_HAS_EXPIRED` alone is not proof the rest is good: an expired certificate from another CA,
 * or one issued for servers only, is reported the same way.
 */
export function onlyLeafExpired(
  leaf: X509Certificate,
  presented: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: Date,
): boolean {
  if (new Date(leaf.validFrom) > now || new Date(leaf.validTo) >= now) return false;
  if (!allowsClientAuth(leaf)) return false;
  const usable = (issuer: X509Certificate, child: X509Certificate): boolean =>
    validAt(issuer, now) && allowsClientAuth(issuer) && signedBy(child, issuer);
  let child = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (anchors.some((anchor) => usable(anchor, child))) return true;
    const next = presented.find((c) => c.fingerprint256 !== child.fingerprint256 && usable(c, child));
    if (next === undefined) return false;
    child = next;
  }
  return false;
}

/**
 * Is this TLS connection a device with a valid client certificate (docs/protocol.md §3.3)?
 * Checked on every request and upgrade, not only at the handshake: with TLS 1.3 session
 * resumption Node can report `authorized` for a connection that never sent a certificate
 * (docs/decisions.md §11), and the blacklist may have changed since the handshake.
 */
export function checkPeer(socket: TLSSocket, policy: PeerPolicy, now = new Date()): PeerVerdict {
  // Without a certificate Node returns `{}` here, and `null` once the socket is destroyed,
  // whatever its types say.
  const raw = socket.getPeerCertificate() as Partial<PeerCertificate> | null;
  if (raw?.raw === undefined || raw.raw.length === 0) return { ok: false, reason: 'no client certificate' };
  // Not socket.getPeerX509Certificate(): on Node 20 a server socket loses the chain the client
  // sent (getPeerCertificate(true)) once that has been called, which onlyLeafExpired needs.
  const leaf = new X509Certificate(raw.raw);
  let expiredAccepted = false;
  if (!socket.authorized) {
    const error = String(socket.authorizationError);
    if (!(
      policy.skipExpiry &&
      error === 'CERT_HAS_EXPIRED' &&
      onlyLeafExpired(leaf, presentedChain(socket).slice(1), policy.anchors, now)
    )) {
      const purpose = allowsClientAuth(leaf) ? '' : ', extended key usage without clientAuth';
      return {
        ok: false,
        reason: `client certificate not trusted (${error}${purpose})`,
        serial: leaf.serialNumber,
      };
    }
    expiredAccepted = true;
  }
  if (policy.blacklist?.has(leaf.serialNumber) === true) {
    return {
      ok: false,
      reason: `client certificate serial ${leaf.serialNumber} is blacklisted`,
      serial: leaf.serialNumber,
    };
  }
  return { ok: true, serial: leaf.serialNumber, subject: leaf.subject.replace(/\n/g, ', '), expiredAccepted };
}
