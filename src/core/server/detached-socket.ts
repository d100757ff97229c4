import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';

/** A handler Node calls with a socket it no longer looks after (`'upgrade'`, `'connect'`). */
export type DetachedSocketHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Node's HTTP server removes its own `'error'` listener from a socket before it emits
 * `'upgrade'` or `'connect'` (`lib/_http_server.js`, `onParserExecuteCommon`): from then on
 * the socket is the handler's alone. A socket `'error'` with no listener is an uncaught
 * exception, so a peer that sends an `Upgrade` or `CONNECT` and resets the connection at once
 * (the answer then meets EPIPE or ECONNRESET) would stop the whole process. Every such socket
 * therefore gets a listener before anything else touches it, whatever the handler does next:
 * refuse it, answer it, or tunnel it. The peer going away is not news; it is logged at debug.
 */
export function guardDetachedSocket(
  handler: DetachedSocketHandler,
  listener: 'http' | 'https',
  logger: Logger,
): DetachedSocketHandler {
  return (req, socket, head) => {
    socket.on('error', (err: NodeJS.ErrnoException) => {
      logger.debug({ listener, code: err.code, reason: err.message }, 'detached device socket failed');
      socket.destroy();
    });
    try {
      handler(req, socket, head);
    } catch (err) {
      // A bug in a handler must cost this connection, never the process.
      logger.error({ listener, err }, 'upgrade handler failed: connection closed');
      socket.destroy();
    }
  };
}
