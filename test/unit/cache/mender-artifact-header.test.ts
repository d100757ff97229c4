import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMenderArtifactHeader } from '../../../src/core/cache/mender-artifact-header.js';
import { isGatewayError } from '../../../src/core/errors.js';

/**
 * The header reader against artifacts written by the real `mender-artifact` tool (format v3
 * module images with every header compression it offers, a signed one, a v2 rootfs image),
 * and against files that are not artifacts.
 */

const execFileAsync = promisify(execFile);
const MENDER_ARTIFACT = '/usr/bin/mender-artifact';

let dir: string;
const at = (name: string): string => join(dir, name);

async function writeModuleImage(
  name: string,
  deviceTypes: string[],
  extra: string[],
  payloadBytes = 64 * 1024,
): Promise<string> {
  const payload = at(`${name}.payload`);
  await writeFile(payload, randomBytes(payloadBytes));
  const out = at(`${name}.mender`);
  const types = deviceTypes.flatMap((t) => ['-t', t]);
  await execFileAsync(MENDER_ARTIFACT, [
    'write',
    'module-image',
    '-T',
    'mgw-test',
    '-n',
    name,
    ...types,
    '-f',
    payload,
    ...extra,
    '-o',
    out,
  ]);
  return out;
}

async function expectInvalid(path: string, pattern: RegExp): Promise<void> {
  const err: unknown = await readMenderArtifactHeader(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGatewayError(err) ? err.code : err).toBe('MGW_ARTIFACT_INVALID');
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).toContain(path);
}

beforeAll(async () => {
  if (!existsSync(MENDER_ARTIFACT)) throw new Error(`${MENDER_ARTIFACT} is required for these tests`);
  dir = await mkdtemp(join(tmpdir(), 'mgw-artifact-header-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readMenderArtifactHeader', () => {
  it('uncompressed header (--compression none): name, every device type, payload type', async () => {
    const path = await writeModuleImage(
      'release-plain',
      ['raspberrypi4', 'raspberrypi5'],
      ['--compression', 'none'],
    );
    expect(await readMenderArtifactHeader(path)).toEqual({
      readable: true,
      formatVersion: 3,
      headerCompression: 'none',
      signed: false,
      artifactName: 'release-plain',
      deviceTypes: ['raspberrypi4', 'raspberrypi5'],
      payloadTypes: ['mgw-test'],
    });
  });

  it('gzip header (mender-artifact default)', async () => {
    const path = await writeModuleImage('release-gzip', ['qemux86-64'], []);
    expect(await readMenderArtifactHeader(path)).toMatchObject({
      readable: true,
      headerCompression: 'gzip',
      artifactName: 'release-gzip',
      deviceTypes: ['qemux86-64'],
    });
  });

  it('xz header (--compression lzma): reported as compressed, not an error', async () => {
    const path = await writeModuleImage('release-xz', ['pi'], ['--compression', 'lzma']);
    expect(await readMenderArtifactHeader(path)).toEqual({
      readable: false,
      formatVersion: 3,
      headerCompression: 'xz',
      signed: false,
    });
  });

  it('signed artifact: manifest.sig is noticed, the header still read', async () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    await writeFile(at('signing.key'), privateKey, { mode: 0o600 });
    const path = await writeModuleImage('release-signed', ['pi'], ['-k', at('signing.key')]);
    expect(await readMenderArtifactHeader(path)).toMatchObject({
      readable: true,
      signed: true,
      artifactName: 'release-signed',
      deviceTypes: ['pi'],
    });
  });

  it('format v2 rootfs image: artifact_name and device_types_compatible', async () => {
    await writeFile(at('rootfs.ext4'), randomBytes(32 * 1024));
    const path = at('v2.mender');
    await execFileAsync(MENDER_ARTIFACT, [
      'write',
      'rootfs-image',
      '-v',
      '2',
      '-n',
      'release-v2',
      '-t',
      'beaglebone',
      '-f',
      at('rootfs.ext4'),
      '-o',
      path,
    ]);
    expect(await readMenderArtifactHeader(path)).toMatchObject({
      readable: true,
      formatVersion: 2,
      artifactName: 'release-v2',
      deviceTypes: ['beaglebone'],
      payloadTypes: ['rootfs-image'],
    });
  });

  it('stops at the header: the first 16 KiB of a 4 MiB artifact are enough', async () => {
    const path = await writeModuleImage('release-big', ['pi'], [], 4 * 1024 * 1024);
    expect((await stat(path)).size).toBeGreaterThan(4 * 1024 * 1024);
    const head = at('big-head.mender');
    await writeFile(head, (await readFile(path)).subarray(0, 16 * 1024));
    expect(await readMenderArtifactHeader(head)).toMatchObject({
      artifactName: 'release-big',
      deviceTypes: ['pi'],
    });
  });

  it('a file truncated inside its header is a clear error', async () => {
    const path = await writeModuleImage('release-cut', ['pi'], ['--compression', 'none']);
    const cut = at('cut.mender');
    // version (1 KiB) + manifest (1 KiB) + half of the header.tar member's tar header.
    await writeFile(cut, (await readFile(path)).subarray(0, 2048 + 256));
    await expectInvalid(
      cut,
      /not a readable Mender artifact: the file ends before its header does \(truncated\)/,
    );
  });

  it('garbage is a clear error', async () => {
    const path = at('garbage.mender');
    await writeFile(path, randomBytes(8192));
    await expectInvalid(path, /not a readable Mender artifact: Invalid tar header/);
  });

  it('an empty file is a clear error', async () => {
    const path = at('empty.mender');
    await writeFile(path, '');
    await expectInvalid(path, /it is an empty tar/);
  });

  it('a tar that is not an artifact is a clear error', async () => {
    // A valid ustar archive with one member named "hello.txt".
    const header = Buffer.alloc(512);
    header.write('hello.txt', 0);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write('00000000005\0', 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write('0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    const body = Buffer.alloc(512);
    body.write('hello');
    const path = at('plain.tar');
    await writeFile(path, Buffer.concat([header, body, Buffer.alloc(1024)]));
    await expectInvalid(path, /its first member is "hello\.txt", expected "version"/);
  });

  it('a missing file is an I/O error, not an invalid artifact', async () => {
    const err: unknown = await readMenderArtifactHeader(at('nope.mender')).catch((e: unknown) => e);
    expect(isGatewayError(err) && err.code).toBe('MGW_CACHE_IO');
    expect((err as Error).message).toMatch(/ENOENT/);
  });
});
