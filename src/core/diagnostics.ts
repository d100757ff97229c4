import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Exchange } from './server/exchange.js';

/**
 * What the gateway reports about its own work, on `node:diagnostics_channel` (as undici does,
 * https://github.com/nodejs/undici/blob/main/docs/docs/api/DiagnosticsChannel.md): the code that
 * does the work publishes; metrics, readiness, the access log and the status page subscribe. No
 * module decides what another one counts, and a new metric is a new subscriber, not a new
 * parameter.
 *
 * Channel names are fixed, so outside tools can subscribe too. Several gateways can share a
 * process (tests do): every message names the {@link Instrumentation} scope of the gateway that
 * published it, and our own subscribers listen to their scope only.
 */
export const CHANNELS = {
  /** An exchange with a device began (its request headers arrived). */
  exchangeStart: channel('mender-gw:exchange:start'),
  /** An exchange with a device ended (answered, relayed, refused, failed, aborted). */
  exchangeEnd: channel('mender-gw:exchange:end'),
  /** Response headers arrived from the upstream server; `seconds` since the request was sent. */
  upstreamResponse: channel('mender-gw:upstream:response'),
  /** A WebSocket tunnel opened (101 relayed) or closed. */
  tunnelOpened: channel('mender-gw:tunnel:opened'),
  tunnelClosed: channel('mender-gw:tunnel:closed'),
  /** The mTLS listener accepted or refused a device's TLS connection. */
  mtlsVerdict: channel('mender-gw:mtls:verdict'),
  /** Cache fills (downloads from storage into the cache) and evictions. */
  fillStarted: channel('mender-gw:cache:fill-started'),
  fillFinished: channel('mender-gw:cache:fill-finished'),
  fillFailed: channel('mender-gw:cache:fill-failed'),
  evicted: channel('mender-gw:cache:evicted'),
  /** The cache answered a download: hit, miss (a fill started), coalesced (joined a fill), bypass. */
  cacheLookup: channel('mender-gw:cache:lookup'),
} as const;

export interface ScopedMessage {
  scope: Instrumentation;
}
export interface ExchangeStartMessage extends ScopedMessage {
  exchange: Exchange;
}
export interface ExchangeEndMessage extends ScopedMessage {
  exchange: Exchange;
}
export interface SecondsMessage extends ScopedMessage {
  seconds: number;
}
export interface TunnelClosedMessage extends ScopedMessage {
  /** 101 for a tunnel that ran (the gauge of open tunnels goes down), else the refusal's status. */
  status: number;
}
export interface MtlsVerdictMessage extends ScopedMessage {
  accepted: boolean;
}
/** The artifact a download or a fill is about; `size` is unknown for some bypasses. */
export interface ArtifactInfo {
  key: string;
  artifactId: string | undefined;
  artifactName: string | undefined;
  size: number | undefined;
}
export interface CacheLookupMessage extends ScopedMessage {
  result: 'hit' | 'miss' | 'coalesced' | 'bypass';
  /** The download it answered, and its artifact (absent when published without them). */
  exchange?: Exchange;
  artifact?: ArtifactInfo;
}
/**
 * A fill's progress, read when wanted instead of published per chunk: `written` is live.
 * `ArtifactFill` is one.
 */
export interface FillProgress {
  readonly key: string;
  readonly size: number;
  readonly written: number;
}
export interface FillStartedMessage extends ScopedMessage {
  fill?: FillProgress;
  artifact?: ArtifactInfo;
}
export interface FillFinishedMessage extends ScopedMessage {
  size: number;
  key?: string;
}
export interface FillFailedMessage extends ScopedMessage {
  key?: string;
}

/** The message each channel carries. */
interface Messages {
  exchangeStart: ExchangeStartMessage;
  exchangeEnd: ExchangeEndMessage;
  upstreamResponse: SecondsMessage;
  tunnelOpened: ScopedMessage;
  tunnelClosed: TunnelClosedMessage;
  mtlsVerdict: MtlsVerdictMessage;
  fillStarted: FillStartedMessage;
  fillFinished: FillFinishedMessage;
  fillFailed: FillFailedMessage;
  evicted: ScopedMessage;
  cacheLookup: CacheLookupMessage;
}

type ChannelName = keyof typeof CHANNELS & keyof Messages;

/** One gateway's publisher: every message carries this object as its scope. */
export class Instrumentation {
  exchangeStart(exchange: Exchange): void {
    this.#publish('exchangeStart', { scope: this, exchange });
  }
  exchangeEnd(exchange: Exchange): void {
    this.#publish('exchangeEnd', { scope: this, exchange });
  }
  upstreamResponse(seconds: number): void {
    this.#publish('upstreamResponse', { scope: this, seconds });
  }
  tunnelOpened(): void {
    this.#publish('tunnelOpened', { scope: this });
  }
  tunnelClosed(status: number): void {
    this.#publish('tunnelClosed', { scope: this, status });
  }
  mtlsVerdict(accepted: boolean): void {
    this.#publish('mtlsVerdict', { scope: this, accepted });
  }
  fillStarted(fill?: FillProgress, artifact?: ArtifactInfo): void {
    this.#publish('fillStarted', { scope: this, fill, artifact });
  }
  fillFinished(size: number, key?: string): void {
    this.#publish('fillFinished', { scope: this, size, key });
  }
  fillFailed(key?: string): void {
    this.#publish('fillFailed', { scope: this, key });
  }
  evicted(): void {
    this.#publish('evicted', { scope: this });
  }
  cacheLookup(result: CacheLookupMessage['result'], exchange?: Exchange, artifact?: ArtifactInfo): void {
    this.#publish('cacheLookup', { scope: this, result, exchange, artifact });
  }

  /**
   * Subscribe to one channel for this scope's messages only; returns the unsubscribe function.
   * Subscribers run synchronously inside `publish`: they must not throw, and must be quick.
   */
  on<K extends ChannelName>(name: K, handler: (message: Messages[K]) => void): () => void {
    const listener = (message: unknown): void => {
      if ((message as ScopedMessage).scope === this) handler(message as Messages[K]);
    };
    const channelName = CHANNELS[name].name;
    subscribe(channelName, listener);
    return () => unsubscribe(channelName, listener);
  }

  #publish<K extends ChannelName>(name: K, message: Messages[K]): void {
    const ch = CHANNELS[name];
    // Building nothing when nobody listens keeps the hot path free (undici does the same).
    if (ch.hasSubscribers) ch.publish(message);
  }
}
