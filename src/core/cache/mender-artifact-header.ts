import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { Extract } from 'tar-stream';
import { GatewayError } from '../errors.js';
import { errnoCode } from '../file-errors.js';

/**
 * What `cache ls` shows of a cached artifact, read from the artifact itself rather than from
 * the deployment that caused the download.
 *
 * A Mender artifact (format v2/v3, mender-artifact's `Documentation/artifact-format-v3.md`)
 * is an uncompressed tar whose members come in a fixed order:
 *
 *   version                     {"format":"mender","version":3}
 *   manifest                    checksums of the other members
 *   manifest.sig                optional signature of the manifest
 *   manifest-augment            optional (v3)
 *   header.tar[.gz|.xz|.zst]    a tar whose first member is `header-info`
 *   header-augment.tar[…]       optional (v3)
 *   data/0000.tar[…]            the payloads: the bulk of the file
 *
 * `header-info` holds `artifact_provides.artifact_name` and `artifact_depends.device_type`
 * in v3, `artifact_name` and `device_types_compatible` in v1/v2. Reading stops as soon as
 * it is parsed, so the cost is a few kilobytes whatever the artifact's size, and a file that
 * is still being downloaded (a cache fill) is readable once its first kilobytes are there.
 *
 * tar-stream does not decompress (docs/decisions.md §9): gzip headers are inflated with zlib; xz and
 * zstd need libraries Node 20 does not have, so those headers are reported as unread.
 */

export type HeaderCompression = 'none' | 'gzip' | 'xz' | 'zstd';

export type MenderArtifactHeader =
  | {
      readable: true;
      /** `version` of the artifact format (1, 2 or 3). */
      formatVersion: number;
      headerCompression: 'none' | 'gzip';
      /** Whether the artifact carries `manifest.sig`. */
      signed: boolean;
      artifactName: string;
      /** Compatible device types (`artifact_depends.device_type`). */
      deviceTypes: string[];
      /** Payload types (update module names), e.g. `rootfs-image`. */
      payloadTypes: string[];
    }
  | {
      /** The header is compressed with something Node cannot inflate: name and device types unknown. */
      readable: false;
      formatVersion: number;
      headerCompression: 'xz' | 'zstd';
      signed: boolean;
    };

/** A member of a tar being extracted (tar-stream's `Source`, which it does not export). */
type Entry = Extract extends AsyncIterable<infer Member> ? Member : never;

/** Small JSON members (`version`, `header-info`) larger than this are not an artifact's. */
const MAX_JSON_MEMBER = 1024 * 1024;
const READ_CHUNK = 64 * 1024;

const COMPRESSION_BY_SUFFIX: Readonly<Record<string, HeaderCompression>> = {
  '': 'none',
  '.gz': 'gzip',
  '.xz': 'xz',
  '.zst': 'zstd',
};

/** Reading failed for a reason of the file's content (not of the filesystem). */
class NotAnArtifact extends Error {}

/**
 * Read the name, device types and format of the Mender artifact at `path`, reading only as
 * far as its header.
 *
 * Throws `MGW_ARTIFACT_INVALID` when the file is not an artifact (not a tar, no `version`,
 * no header before the payloads, truncated before the header ends) and `MGW_CACHE_IO` when
 * it cannot be read at all.
 */
export async function readMenderArtifactHeader(path: string): Promise<MenderArtifactHeader> {
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    return await parseOuter(file);
  } catch (err) {
    if (err instanceof NotAnArtifact) {
      throw new GatewayError(
        'MGW_ARTIFACT_INVALID',
        `${path} is not a readable Mender artifact: ${err.message}`,
        {
          hint: 'the file is damaged, truncated or not an artifact; check it with `mender-artifact read`',
        },
      );
    }
    const code = errnoCode(err);
    if (code?.startsWith('E') === true) {
      throw new GatewayError('MGW_CACHE_IO', `cannot read ${path}: ${code}`, {
        cause: err,
        hint: 'check that the file exists and is readable by the user running mender-gw',
      });
    }
    // tar-stream's and zlib's own parse errors ("Invalid tar header…", "Unexpected end of data").
    const raw = err instanceof Error ? err.message : String(err);
    const message = /unexpected end/i.test(raw) ? 'the file ends before its header does (truncated)' : raw;
    throw new GatewayError('MGW_ARTIFACT_INVALID', `${path} is not a readable Mender artifact: ${message}`, {
      cause: err,
      hint: 'the file is damaged, truncated or not an artifact; check it with `mender-artifact read`',
    });
  } finally {
    file.destroy();
  }
}

async function parseOuter(source: Readable): Promise<MenderArtifactHeader> {
  let formatVersion: number | undefined;
  let signed = false;
  for await (const entry of tarEntries(source)) {
    const name = entry.header.name;
    if (formatVersion === undefined) {
      if (name !== 'version') throw new NotAnArtifact(`its first member is "${name}", expected "version"`);
      formatVersion = parseVersion(await readJsonMember(entry));
      continue;
    }
    if (name === 'manifest.sig') signed = true;
    const header = /^header\.tar(|\.gz|\.xz|\.zst)$/.exec(name);
    if (header !== null) {
      const compression = COMPRESSION_BY_SUFFIX[header[1] ?? ''] ?? 'none';
      if (compression === 'xz' || compression === 'zstd') {
        return { readable: false, formatVersion, headerCompression: compression, signed };
      }
      const inner = compression === 'gzip' ? gunzip(entry) : Readable.from(entry);
      const info = await readHeaderInfo(inner);
      return { readable: true, formatVersion, headerCompression: compression, signed, ...info };
    }
    if (name.startsWith('data/')) throw new NotAnArtifact(`payload "${name}" comes before any header.tar`);
    entry.resume();
  }
  throw new NotAnArtifact(formatVersion === undefined ? 'it is an empty tar' : 'it has no header.tar');
}

function gunzip(entry: Entry): Readable {
  return pipeline(Readable.from(entry), createGunzip(), () => undefined);
}

async function readHeaderInfo(
  source: Readable,
): Promise<{ artifactName: string; deviceTypes: string[]; payloadTypes: string[] }> {
  for await (const entry of tarEntries(source)) {
    if (entry.header.name !== 'header-info') {
      entry.resume();
      continue;
    }
    const json = await readJsonMember(entry);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new NotAnArtifact('header-info is not a JSON object');
    }
    const info = json as Record<string, unknown>;
    const provides = asRecord(info.artifact_provides);
    const depends = asRecord(info.artifact_depends);
    // v3 first, then the v1/v2 names.
    const artifactName = provides.artifact_name ?? info.artifact_name;
    const deviceTypes = depends.device_type ?? info.device_types_compatible;
    if (typeof artifactName !== 'string') throw new NotAnArtifact('header-info has no artifact name');
    if (!isStringArray(deviceTypes)) throw new NotAnArtifact('header-info has no compatible device types');
    const payloads = Array.isArray(info.payloads)
      ? info.payloads
      : Array.isArray(info.updates)
        ? info.updates
        : [];
    const payloadTypes = payloads
      .map((p) => asRecord(p).type)
      .filter((t): t is string => typeof t === 'string');
    return { artifactName, deviceTypes, payloadTypes };
  }
  throw new NotAnArtifact('header.tar has no header-info');
}

function parseVersion(json: unknown): number {
  const { format, version } = asRecord(json);
  if (format !== 'mender') throw new NotAnArtifact('its version member does not say format "mender"');
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new NotAnArtifact('its version member has no integer version');
  }
  return version;
}

async function readJsonMember(entry: Entry): Promise<unknown> {
  const name = entry.header.name;
  if (entry.header.size > MAX_JSON_MEMBER) throw new NotAnArtifact(`member "${name}" is too large`);
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new NotAnArtifact(`member "${name}" is not JSON`);
  }
}

/**
 * The members of the tar read from `source`, one at a time. Each must be consumed (read or
 * `resume()`d) before the next arrives. Leaving the loop early stops reading the source.
 */
async function* tarEntries(source: Readable): AsyncGenerator<Entry> {
  const extract = tar.extract();
  const fail = (err: Error): void => {
    extract.destroy(err);
  };
  source.on('error', fail);
  // tar-stream 3 is built on streamx, not Node streams (docs/decisions.md §9); its Writable accepts Node's
  // pipe().
  source.pipe(extract);
  try {
    yield* extract;
  } finally {
    source.off('error', fail);
    source.unpipe(extract);
    source.destroy();
    extract.destroy();
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}
