import { basename } from 'node:path';
import { csvRecords } from '../csv-field.js';
import type { CertificateSummary } from './certificate-summary.js';

/**
 * The factory record of a `cert issue device` batch (docs/certificates.md, "Batch manifest"):
 * one row per device with its identity, serial number and SHA-256 fingerprint (what a
 * revocation list or a serial blacklist needs) and the names of its two files, written as
 * `manifest.csv` and `manifest.json` next to them.
 */

export const MANIFEST_CSV = 'manifest.csv';
export const MANIFEST_JSON = 'manifest.json';

export interface ManifestDevice {
  identity: string;
  subject: string;
  /** Upper-case hex, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  /** Colon-separated upper-case hex (`openssl x509 -fingerprint -sha256`). */
  sha256Fingerprint: string;
  /** File names, relative to the manifest's folder. */
  certificateFile: string;
  keyFile: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
}

export interface DeviceManifest {
  generatedAt: string;
  issuer: string;
  count: number;
  devices: ManifestDevice[];
}

const CSV_HEADER = [
  'identity',
  'subject',
  'serial_number',
  'sha256_fingerprint',
  'certificate_file',
  'key_file',
  'not_before',
  'not_after',
  'key_type',
] as const;

export function buildDeviceManifest(certificates: readonly CertificateSummary[], now: Date): DeviceManifest {
  return {
    generatedAt: now.toISOString(),
    issuer: certificates[0]?.issuer ?? '',
    count: certificates.length,
    devices: certificates.map((cert) => ({
      identity: cert.identity ?? cert.subject,
      subject: cert.subject,
      serialNumber: cert.serialNumber,
      sha256Fingerprint: cert.sha256Fingerprint,
      certificateFile: basename(cert.certificatePath),
      keyFile: basename(cert.keyPath),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      keyType: cert.keyType,
    })),
  };
}

export function manifestJson(manifest: DeviceManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** RFC 4180 CSV with a header row; spreadsheet programs open it as it is. */
export function manifestCsv(manifest: DeviceManifest): string {
  return csvRecords([
    CSV_HEADER,
    ...manifest.devices.map((d) => [
      d.identity,
      d.subject,
      d.serialNumber,
      d.sha256Fingerprint,
      d.certificateFile,
      d.keyFile,
      d.notBefore,
      d.notAfter,
      d.keyType,
    ]),
  ]);
}
