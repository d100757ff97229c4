import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TEST_UPDATE_MODULE } from './constants.js';

const run = promisify(execFile);

export interface BuildArtifactOptions {
  /** Artifact name (`-n`), also the file name `<name>.mender` in outDir. */
  name: string;
  /** Compatible device type (`-t`). */
  deviceType: string;
  payload: Buffer;
  outDir: string;
  /** Update module (`-T`); default the harness's own {@link TEST_UPDATE_MODULE}. */
  moduleType?: string;
  /** Name of the payload file inside the artifact, i.e. in the device's installedDir; default `payload.bin`. */
  payloadName?: string;
}

export interface BuiltArtifact {
  path: string;
  data: Buffer;
  size: number;
  payloadName: string;
}

/**
 * `mender-artifact write module-image … --compression none`: an uncompressed, unsigned v3
 * module artifact. The payload file keeps its name inside the artifact, so it is written to a
 * scratch folder under that name first. Even a tiny payload yields a file above the 4096 bytes
 * the 3.4 client insists on (tar headers and metadata alone are ~10 KiB).
 */
export async function buildArtifact(options: BuildArtifactOptions): Promise<BuiltArtifact> {
  const payloadName = options.payloadName ?? 'payload.bin';
  if (payloadName.includes('/')) throw new Error(`payloadName must be a plain file name: ${payloadName}`);
  await mkdir(options.outDir, { recursive: true });
  const scratch = await mkdtemp(join(options.outDir, '.payload-'));
  try {
    const payloadPath = join(scratch, payloadName);
    await writeFile(payloadPath, options.payload);
    const path = join(options.outDir, `${options.name.replace(/[^A-Za-z0-9._-]/g, '_')}.mender`);
    const args = [
      'write',
      'module-image',
      '-T',
      options.moduleType ?? TEST_UPDATE_MODULE,
      '-n',
      options.name,
      '-t',
      options.deviceType,
      '-f',
      payloadPath,
      '--compression',
      'none',
      '-o',
      path,
    ];
    await run('mender-artifact', args, { timeout: 60_000 }).catch((error: unknown) => {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`mender-artifact ${args.join(' ')} failed: ${String(error)}\n${stderr}`);
    });
    const data = await readFile(path);
    return { path, data, size: data.length, payloadName };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
