import { randomUUID } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { msgpackDecode, msgpackEncode } from './msgpack.js';
import type { MsgpackValue } from './msgpack.js';

/**
 * Protocol numbers and message types of Mender's "ProtoMsg" frames, from
 * https://github.com/mendersoftware/go-lib-micro/blob/master/ws/protomsg.go and
 * https://github.com/mendersoftware/go-lib-micro/blob/master/ws/shell/model.go
 */
const PROTO_SHELL = 1;
const PROTO_CONTROL = 0xffff;
const STATUS_NORMAL = 1;

export interface ProtoMsg {
  hdr: { proto: number; typ?: string; sid?: string; props?: Record<string, MsgpackValue> };
  body?: Buffer;
}

function decode(data: RawData): ProtoMsg | undefined {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  try {
    const value = msgpackDecode(buffer);
    if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || Array.isArray(value))
      return undefined;
    return typeof value.hdr === 'object' && value.hdr !== null ? (value as unknown as ProtoMsg) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The server's side of one remote-terminal session on a device's deviceconnect tunnel, as
 * Mender's UI drives it: `new` spawns the shell (the device answers with status 1 and "Shell
 * started"), `shell` frames carry keystrokes one way and terminal output the other, `stop` ends
 * it. Shell and control pings from the device are answered, as the server does.
 */
export class RemoteTerminal {
  readonly sid = randomUUID();
  #output = '';
  readonly #waiters = new Set<() => void>();
  readonly #replies: ProtoMsg[] = [];

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => {
      const msg = decode(data);
      if (msg === undefined) return;
      if (msg.hdr.proto === PROTO_CONTROL && msg.hdr.typ === 'ping') {
        this.#send({ hdr: { proto: PROTO_CONTROL, typ: 'pong', sid: msg.hdr.sid } });
      } else if (msg.hdr.proto === PROTO_SHELL && msg.hdr.sid === this.sid) {
        if (msg.hdr.typ === 'ping') this.#send({ hdr: { proto: PROTO_SHELL, typ: 'pong', sid: this.sid } });
        else if (msg.hdr.typ === 'shell') this.#output += (msg.body ?? Buffer.alloc(0)).toString('utf8');
        else this.#replies.push(msg);
      }
      for (const wake of [...this.#waiters]) wake();
    });
  }

  #send(msg: ProtoMsg): void {
    this.ws.send(msgpackEncode(msg as unknown as MsgpackValue), { binary: true });
  }

  async #waitFor<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
    const ready = check();
    if (ready !== undefined) return ready;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(
          new Error(
            `remote terminal: no ${what} within ${timeoutMs} ms; output so far: ${JSON.stringify(this.#output)}`,
          ),
        );
      }, timeoutMs);
      const wake = (): void => {
        const value = check();
        if (value === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(value);
      };
      this.#waiters.add(wake);
    });
  }

  /** The device's answer to a control message of this session (`new`, `stop`). */
  #reply(typ: string, timeoutMs: number): Promise<ProtoMsg> {
    return this.#waitFor(`${typ} reply`, () => this.#replies.find((r) => r.hdr.typ === typ), timeoutMs);
  }

  /** Spawns the shell; resolves with the device's answer (body "Shell started"), rejects on an error status. */
  async spawn(timeoutMs: number): Promise<string> {
    this.#send({
      hdr: {
        proto: PROTO_SHELL,
        typ: 'new',
        sid: this.sid,
        props: { user_id: 'mgw-test-user', terminal_width: 80, terminal_height: 24 },
      },
    });
    const reply = await this.#reply('new', timeoutMs);
    const body = (reply.body ?? Buffer.alloc(0)).toString('utf8');
    if (reply.hdr.props?.status !== STATUS_NORMAL) throw new Error(`shell not started: ${body}`);
    return body;
  }

  /** Types `line` and a newline into the shell. */
  type(line: string): void {
    this.#send({ hdr: { proto: PROTO_SHELL, typ: 'shell', sid: this.sid }, body: Buffer.from(`${line}\n`) });
  }

  /** Resolves with all terminal output so far once it matches `pattern`. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<string> {
    return this.#waitFor(
      `output matching ${String(pattern)}`,
      () => (pattern.test(this.#output) ? this.#output : undefined),
      timeoutMs,
    );
  }

  /** Stops the shell; resolves with the status the device answered with. */
  async stop(timeoutMs: number): Promise<MsgpackValue | undefined> {
    this.#send({ hdr: { proto: PROTO_SHELL, typ: 'stop', sid: this.sid } });
    return (await this.#reply('stop', timeoutMs)).hdr.props?.status;
  }
}
