import { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clientAddress } from '../http/client-address.js';
import { toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Exchange } from './exchange.js';
import type { ListenerKind } from './exchange.js';
import { runPipeline } from './interceptor.js';
import type { Interceptor } from './interceptor.js';

export interface EntryOptions {
  chain: readonly Interceptor[];
  logger: Logger;
  /** Called when an exchange starts and when it ends (shutdown waits for the open ones). */
  started(exchange: Exchange): void;
  ended(exchange: Exchange): void;
  isClosing(): boolean;
}

function run(options: EntryOptions, exchange: Exchange): void {
  options.started(exchange);
  runPipeline(options.chain, exchange).catch((err: unknown) => {
    const failure = toGatewayError(err);
    options.logger.error({ err: failure, requestId: exchange.id }, 'exchange failed');
    exchange.fail(failure);
  });
}

/** The device listeners' `'request'` handler: every request becomes an {@link Exchange}. */
export function createRequestHandler(options: EntryOptions, listener: ListenerKind) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const exchange = new Exchange(req, res, listener, clientAddress(req.socket), (e) => {
      options.ended(e);
    });
    // During shutdown, finish this exchange but do not keep the connection for another.
    if (options.isClosing()) res.shouldKeepAlive = false;
    res.once('close', () => exchange.responseClosed());
    run(options, exchange);
  };
}

/**
 * The `'upgrade'` handler: an upgrade request goes through the same pipeline as any other, with a
 * response bound to its socket, so it is classified, refused, counted and logged the same way;
 * only the WebSocket step may take the socket over. Node no longer manages this connection
 * (`detached-socket.ts`), so the answer closes it.
 */
export function createUpgradeHandler(options: EntryOptions, listener: ListenerKind) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // Node hands over the connection's net.Socket (a TLSSocket on HTTPS), typed as a Duplex.
    if (!(socket instanceof Socket)) {
      socket.destroy();
      return;
    }
    // An Upgrade pipelined behind a request whose answer is still under way: that answer owns the
    // socket, and the upgrade can never be answered in order. No client does this; close it.
    if ((socket as Socket & { _httpMessage?: unknown })._httpMessage != null) {
      options.logger.debug(
        { listener, path: req.url?.split('?')[0] },
        'upgrade pipelined behind an unanswered request: connection closed',
      );
      socket.destroy();
      return;
    }
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    // Like Node's own server after a `Connection: close` answer: flush, then close.
    res.once('finish', () => socket.destroySoon());
    const exchange = new Exchange(
      req,
      res,
      listener,
      clientAddress(req.socket),
      (e) => {
        options.ended(e);
      },
      { socket, head },
    );
    // The response closes with its socket; a tunnel detaches it and ends the exchange itself.
    res.once('close', () => exchange.responseClosed());
    run(options, exchange);
  };
}
