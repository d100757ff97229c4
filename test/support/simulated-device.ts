import { generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { request } from 'undici';
import type { Dispatcher } from 'undici';

export type DeviceKeyType = 'ec' | 'rsa' | 'ed25519';

/** A key made beforehand (see `generateDeviceKeys`), so a fleet does not pay for it per device. */
export interface DeviceKey {
  privateKey: KeyObject;
  publicKeyPem: string;
}

/**
 * A device simulated in-process: its own key, auth requests signed like the real client
 * (docs/protocol.md §2.1: RSA PKCS#1 v1.5 / ECDSA DER over SHA-256, pure Ed25519), and the
 * 3.x body layout with its trailing newline.
 */
export class SimulatedDevice {
  readonly mac: string;
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
  jwt: string | undefined;

  constructor(mac: string, key: DeviceKeyType | DeviceKey = 'ec') {
    this.mac = mac;
    if (typeof key !== 'string') {
      this.privateKey = key.privateKey;
      this.publicKeyPem = key.publicKeyPem;
      return;
    }
    const pair =
      key === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : key === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicKeyPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  authBody(): Buffer {
    return Buffer.from(
      `${JSON.stringify({ id_data: JSON.stringify({ mac: this.mac }), tenant_token: '', pubkey: this.publicKeyPem })}\n`,
    );
  }

  signature(body: Buffer): string {
    const algorithm = this.privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return sign(algorithm, body, this.privateKey).toString('base64');
  }

  /** POST auth_requests; on 200 keeps the JWT. Returns the status. */
  async authenticate(baseUrl: string, dispatcher?: Dispatcher): Promise<number> {
    const body = this.authBody();
    const res = await request(`${baseUrl}/api/devices/v1/authentication/auth_requests`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-men-signature': this.signature(body),
        authorization: 'Bearer ',
      },
      body,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const text = await res.body.text();
    if (res.statusCode === 200) this.jwt = text;
    return res.statusCode;
  }
}

export type NextVariant = 'v2-post' | 'v1-post' | 'v1-get';

export interface NextAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json:
    | {
        id: string;
        artifact: {
          id: string;
          artifact_name: string;
          source: { uri: string; expire?: string };
          device_types_compatible: string[];
        };
      }
    | undefined;
}

/** Poll for an update the way the clients do (docs/protocol.md §2.2), with the device's JWT. */
export async function pollNext(
  baseUrl: string,
  device: SimulatedDevice,
  provides: { device_type: string; artifact_name: string },
  variant: NextVariant = 'v2-post',
  extraHeaders: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<NextAnswer> {
  const via = dispatcher === undefined ? {} : { dispatcher };
  const headers = {
    authorization: `Bearer ${device.jwt ?? ''}`,
    'content-type': 'application/json',
    ...extraHeaders,
  };
  const res =
    variant === 'v1-get'
      ? await request(
          `${baseUrl}/api/devices/v1/deployments/device/deployments/next?${new URLSearchParams(provides).toString()}`,
          { headers, ...via },
        )
      : await request(
          `${baseUrl}/api/devices/${variant === 'v2-post' ? 'v2' : 'v1'}/deployments/device/deployments/next`,
          {
            method: 'POST',
            headers,
            body: JSON.stringify(variant === 'v2-post' ? { device_provides: provides } : provides),
            ...via,
          },
        );
  const body = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers,
    body,
    json: res.statusCode === 200 ? (JSON.parse(body.toString('utf8')) as NextAnswer['json']) : undefined,
  };
}
