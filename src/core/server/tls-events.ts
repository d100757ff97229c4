import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Instrumentation } from '../diagnostics.js';
import type { Logger } from '../logger.js';
import { checkPeer } from '../mtls/client-certificate-check.js';
import type { PeerPolicy } from '../mtls/client-certificate-check.js';

/**
 * What happens on the HTTPS listener before any request: with mTLS, cut blacklisted or otherwise
 * refused certificates as soon as the handshake is done (the handshake itself already refused
 * untrusted or missing ones), and report every failed handshake with the device's address.
 */
export function watchTlsHandshakes(
  server: HttpsServer,
  policy: PeerPolicy | undefined,
  instrumentation: Instrumentation,
  logger: Logger,
): void {
  if (policy !== undefined) {
    server.on('secureConnection', (socket: TLSSocket) => {
      const verdict = checkPeer(socket, policy);
      instrumentation.mtlsVerdict(verdict.ok);
      if (!verdict.ok) {
        logger.warn(
          { ip: socket.remoteAddress, reason: verdict.reason, serial: verdict.serial },
          'mTLS: device refused',
        );
        socket.destroy();
      } else if (verdict.expiredAccepted) {
        logger.warn(
          { ip: socket.remoteAddress, serial: verdict.serial, subject: verdict.subject },
          'mTLS: expired device certificate accepted (InsecureSkipClientExpireAfter)',
        );
      }
    });
  }
  // Node checks a client certificate after OpenSSL's handshake and, refusing it, destroys the
  // socket without an error ("socket hang up"): the verdict is left in authorizationError, and
  // the address must be noted before, on the raw socket.
  const peers = new WeakMap<Socket, string | undefined>();
  server.on('connection', (raw: Socket) => peers.set(raw, raw.remoteAddress));
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    if (policy !== undefined) instrumentation.mtlsVerdict(false);
    const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
    // A code string such as CERT_HAS_EXPIRED at run time, whatever the types say.
    const verdict = socket.authorizationError as unknown;
    const reason = typeof verdict === 'string' ? `client certificate not trusted (${verdict})` : err.message;
    logger.warn(
      {
        ip: socket.remoteAddress ?? (raw === undefined ? undefined : peers.get(raw)),
        code: err.code,
        reason,
      },
      policy === undefined ? 'TLS handshake failed' : 'mTLS: handshake refused',
    );
  });
}
