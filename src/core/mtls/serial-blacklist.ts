import { readFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { GatewayError } from '../errors.js';
import { normaliseSerial } from './serial-number.js';

export interface BlacklistParseResult {
  serials: Set<string>;
  /** Lines that are neither blank, comments nor hex serials, with their 1-based numbers. */
  invalid: { line: number; text: string }[];
}

/** One hex serial per line; blank lines and `#` comments are ignored (protocol doc §3.3). */
export function parseBlacklist(text: string): BlacklistParseResult {
  const serials = new Set<string>();
  const invalid: { line: number; text: string }[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const serial = normaliseSerial(line);
    if (serial === undefined) invalid.push({ line: index + 1, text: raw.trim() });
    else serials.add(serial);
  });
  return { serials, invalid };
}

export interface BlacklistEvents {
  reloaded(count: number, invalid: BlacklistParseResult['invalid']): void;
  failed(error: Error): void;
}

/**
 * `Features.mTLS.BlacklistPath`: serials of device certificates that must be refused even
 * though their CA is trusted (the only revocation tool Mender documents, protocol doc §3.8).
 * The file is re-read when it changes, without a restart: the folder is watched, not the file,
 * so editors and config management that replace the file by renaming are seen too, and so are
 * Kubernetes ConfigMap/Secret volumes. A reload that fails keeps the previous list (an
 * unreadable file must not un-revoke every device).
 */
export class SerialBlacklist {
  #serials: Set<string>;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;

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
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new GatewayError(
        'MGW_TLS_MATERIAL',
        `cannot read Features.mTLS.BlacklistPath ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        {
          cause: err,
          hint: 'Create the file (it may be empty) and make it readable by the gateway user, or remove BlacklistPath.',
        },
      );
    }
    return parseBlacklist(text);
  }

  get size(): number {
    return this.#serials.size;
  }

  /** `serial` as Node reports it (`X509Certificate.serialNumber`) or in any format normaliseSerial accepts. */
  has(serial: string): boolean {
    const normalised = normaliseSerial(serial);
    return normalised !== undefined && this.#serials.has(normalised);
  }

  async reload(): Promise<BlacklistParseResult> {
    const result = await SerialBlacklist.#read(this.path);
    this.#serials = result.serials;
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
    this.#watcher.on('error', (err) => events.failed(err));
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
