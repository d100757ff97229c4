import { readFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { GatewayError } from '../errors.js';
import { normaliseSerial } from './serial-number.js';
import { errnoCode } from '../file-errors.js';
import { key } from '../config-key.js';

export interface BlacklistParseResult {
  serials: Set<string>;
  /** Lines that are neither blank, comments nor hex serials, with their 1-based numbers. */
  invalid: { line: number; text: string }[];
  /** Lines that hold only a `#` comment: a file of comments alone empties the list on purpose. */
  comments: number;
  /** The text does not end with a line break: it may have been read while half-written. */
  unterminated: boolean;
}

/**
 * The text of a blacklist file: UTF-8 with or without a byte order mark, or UTF-16 (LE or BE)
 * with one, which is what editors on Windows write as "Unicode". Anything else (UTF-16 without a
 * byte order mark, invalid UTF-8, NUL bytes as a crash leaves in a half-written file) cannot be
 * read reliably and is refused (docs/mtls.md, "Revoking a device").
 */
export function decodeBlacklist(bytes: Uint8Array): string {
  const encoding =
    bytes[0] === 0xff && bytes[1] === 0xfe
      ? 'utf-16le'
      : bytes[0] === 0xfe && bytes[1] === 0xff
        ? 'utf-16be'
        : 'utf-8';
  let text: string;
  try {
    // The decoder drops the byte order mark of its own encoding.
    text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`not valid ${encoding.toUpperCase()}`);
  }
  if (text.includes('\u0000'))
    throw new Error('it contains NUL bytes (UTF-16 without a byte order mark, or a half-written file)');
  return text;
}

/** One hex serial per line; blank lines and `#` comments are ignored (docs/mtls.md). */
export function parseBlacklist(text: string): BlacklistParseResult {
  const serials = new Set<string>();
  const invalid: { line: number; text: string }[] = [];
  let comments = 0;
  // Any line end: LF, CRLF, and the lone CR of old Mac editors.
  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') {
      if (raw.includes('#')) comments++;
      return;
    }
    const serial = normaliseSerial(line);
    if (serial === undefined) invalid.push({ line: index + 1, text: raw.trim() });
    else serials.add(serial);
  });
  return { serials, invalid, comments, unterminated: text.length > 0 && !/[\r\n]$/.test(text) };
}

/**
 * Why a re-read file must not replace the list in force, or `undefined` when it may. Only a
 * file that would un-revoke someone is examined: one that drops a serial is trusted only when it
 * looks complete and deliberate. Lines that are not serials (another encoding, a half-written
 * line), an empty file (truncated in place), or a last line without its line break (still being
 * written) are refused. Emptying the list on purpose takes a file of comments only.
 */
export function reloadRefusal(current: ReadonlySet<string>, next: BlacklistParseResult): string | undefined {
  if ([...current].every((serial) => next.serials.has(serial))) return undefined;
  const [firstBad] = next.invalid;
  if (firstBad !== undefined)
    return `${next.invalid.length} line(s) are not hex serials (first: line ${firstBad.line})`;
  if (next.serials.size === 0 && next.comments === 0)
    return 'the file lists no serial and no comment; to empty the list on purpose, leave a # comment line in it';
  if (next.unterminated) return 'its last line has no line break, so it may be half-written';
  return undefined;
}

export interface BlacklistStatus {
  path: string;
  /** Serials in force. */
  serials: number;
  /** When the file was last read and applied. */
  loadedAt: string;
  /** Why the last reload was not applied; `undefined` once a reload succeeds. */
  lastError: string | undefined;
  lastErrorAt: string | undefined;
}

const BLACKLIST_ENCODING_HINT =
  'Save the file as UTF-8 (or UTF-16 with a byte order mark), one hex serial per line, ending with a line break; replace it by renaming a complete file over it. To empty the list, leave only # comment lines.';

export interface BlacklistEvents {
  reloaded(count: number, invalid: BlacklistParseResult['invalid']): void;
  failed(error: Error): void;
}

/**
 * `Features.mTLS.BlacklistPath`: serials of device certificates that must be refused even
 * though their CA is trusted (the only revocation tool Mender documents, docs/mtls.md).
 * The file is re-read when it changes, without a restart: the folder is watched, not the file,
 * so editors and config management that replace the file by renaming are seen too, and so are
 * Kubernetes ConfigMap/Secret volumes. A reload that fails, or that {@link reloadRefusal}
 * refuses, keeps the previous list in force (a bad file must not un-revoke every device); the
 * serials the refused file does list are revoked too.
 */
export class SerialBlacklist {
  #serials: Set<string>;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loadedAt = new Date();
  #lastError: { message: string; at: Date } | undefined;

  private constructor(
    readonly path: string,
    serials: Set<string>,
  ) {
    this.#serials = serials;
  }

  /** Read the file; a missing or unreadable file is an error at start-up. */
  static async load(
    path: string,
  ): Promise<{ blacklist: SerialBlacklist; invalid: BlacklistParseResult['invalid'] }> {
    const { serials, invalid } = await SerialBlacklist.#read(path);
    return { blacklist: new SerialBlacklist(path, serials), invalid };
  }

  static async #read(path: string): Promise<BlacklistParseResult> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `cannot read ${key('Features.mTLS.BlacklistPath')} ${path}: ${errnoCode(err) ?? String(err)}`,
        {
          cause: err,
          hint: 'Create the file (it may be empty) and make it readable by the gateway user, or remove BlacklistPath.',
        },
      );
    }
    try {
      return parseBlacklist(decodeBlacklist(bytes));
    } catch (err) {
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `cannot read ${key('Features.mTLS.BlacklistPath')} ${path}: ${(err as Error).message}`,
        { cause: err, hint: BLACKLIST_ENCODING_HINT },
      );
    }
  }

  get size(): number {
    return this.#serials.size;
  }

  status(): BlacklistStatus {
    return {
      path: this.path,
      serials: this.#serials.size,
      loadedAt: this.#loadedAt.toISOString(),
      lastError: this.#lastError?.message,
      lastErrorAt: this.#lastError?.at.toISOString(),
    };
  }

  /** `serial` as Node reports it (`X509Certificate.serialNumber`) or in any format normaliseSerial accepts. */
  has(serial: string): boolean {
    const normalised = normaliseSerial(serial);
    return normalised !== undefined && this.#serials.has(normalised);
  }

  /** Re-read the file; rejects (keeping the list in force) when it cannot be read or is refused. */
  async reload(): Promise<BlacklistParseResult> {
    let result: BlacklistParseResult;
    try {
      result = await SerialBlacklist.#read(this.path);
    } catch (err) {
      this.#lastError = { message: (err as Error).message, at: new Date() };
      throw err;
    }
    const refusal = reloadRefusal(this.#serials, result);
    if (refusal !== undefined) {
      this.#serials = new Set([...this.#serials, ...result.serials]);
      const error = new GatewayError(
        'MGW_TLS_MATERIAL',
        `${key('Features.mTLS.BlacklistPath')} ${this.path} not applied: ${refusal}`,
        { hint: BLACKLIST_ENCODING_HINT },
      );
      this.#lastError = { message: error.message, at: new Date() };
      throw error;
    }
    this.#serials = result.serials;
    this.#loadedAt = new Date();
    this.#lastError = undefined;
    return result;
  }

  watch(events: BlacklistEvents): void {
    const file = basename(this.path);
    this.#watcher = watch(dirname(this.path), (_event, name) => {
      // `..data` and friends: a Kubernetes ConfigMap/Secret volume swaps a symlink instead of
      // touching the file (kubelet's AtomicWriter), so the file's own name never shows up.
      if (name !== null && name !== file && !name.startsWith('..')) return;
      // Editors write in several steps; reload once things settle.
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.reload().then(
          (r) => events.reloaded(r.serials.size, r.invalid),
          (err: unknown) => events.failed(err as Error),
        );
      }, 50);
    });
    this.#watcher.on('error', (err) => {
      this.#lastError = { message: err.message, at: new Date() };
      events.failed(err);
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
