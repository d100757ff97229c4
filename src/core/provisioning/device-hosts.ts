import { posix } from 'node:path';
import { GatewayError } from '../errors.js';
import type { GatewayIdentity } from './gateway-identity.js';
import { certificateNameCovers, normalizeAddress, normalizeHostName } from './host-names.js';
import { unclaimableReason } from './claimable-names.js';
import type { LeftOutName } from './claimable-names.js';

/**
 * `mender-gw device-hosts gen`: everything a device on the segregated network needs to reach
 * the gateway(s), as data. Rendering is in `render.ts`; nothing here reads or writes files.
 *
 * The model (docs/provisioning.md "Standby gateways"):
 * - each `--ip` value is one gateway, `[NAME=]ADDR[,ADDR…]` (several addresses: a dual-stack
 *   gateway); the first is the primary, the others are standbys, in failover order;
 * - the primary answers to every name of the configuration (GatewayURL host, certificate
 *   names), to every `--alias` and to its own NAME;
 * - a standby answers to its own NAME only, which it must have. The Mender client fails over
 *   between the URLs of its `Servers` list, not between addresses of one name, so each
 *   gateway needs a URL, hence a name, of its own; a shared name would send every device
 *   to whichever address the resolver returns first.
 */

export const DEFAULT_SERVER_CERTIFICATE_PATH = '/etc/mender/server.crt';

export interface DeviceHostsInput {
  /** `--ip` values, primary first: `ADDR`, `ADDR,ADDR` or `NAME=ADDR[,ADDR]`. */
  gateways: readonly string[];
  /** `--alias` names: extra names for the primary (e.g. the name devices were built with). */
  aliases?: readonly string[] | undefined;
  /** From the gateway's configuration (`--config`); without it names come from the flags only. */
  identity?: GatewayIdentity | undefined;
  /** `--port`: overrides the configuration's port (NAT, container port mapping). */
  port?: number | undefined;
  /** Device path for `ServerCertificate`; `''` leaves the key out. Default {@link DEFAULT_SERVER_CERTIFICATE_PATH}. */
  serverCertificatePath?: string | undefined;
}

export interface PlannedGateway {
  role: 'primary' | 'standby';
  /** Names resolving to this gateway; the first one is in its ServerURL. */
  names: string[];
  addresses: string[];
  serverUrl: string;
}

export interface HostsEntry {
  address: string;
  names: string[];
}

/** The keys `device-hosts gen` contributes to a device's `mender.conf` (merge them into it). */
export interface MenderConfFragment {
  ServerURL?: string;
  Servers?: { ServerURL: string }[];
  ServerCertificate?: string;
}

export interface DeviceHostsPlan {
  gateways: PlannedGateway[];
  /** One entry per address, in gateway order. */
  hosts: HostsEntry[];
  menderConf: MenderConfFragment;
  /** Names that were asked for or found but are not the gateway's to claim, and why. */
  leftOut: LeftOutName[];
  /** For stderr; never fatal. */
  warnings: string[];
}

function invalid(message: string, hint: string): GatewayError {
  return new GatewayError('MGW_PROVISIONING_INVALID_INPUT', message, { hint });
}

export interface GatewaySpec {
  name: string | undefined;
  addresses: string[];
}

/** Parse one `--ip` value: `ADDR`, `ADDR,ADDR`, `NAME=ADDR[,ADDR]`; addresses canonical. */
export function parseGatewaySpec(text: string): GatewaySpec {
  const what = `--ip "${text}"`;
  const equals = text.indexOf('=');
  const name = equals < 0 ? undefined : normalizeHostName(text.slice(0, equals), what);
  const reserved = name === undefined ? undefined : unclaimableReason(name);
  if (name !== undefined && reserved !== undefined) {
    throw invalid(
      `${what}: "${name}" ${reserved}`,
      'Give the gateway a name of its own, e.g. --ip gw2.site.example=ADDR.',
    );
  }
  const list = equals < 0 ? text : text.slice(equals + 1);
  const items = list.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw invalid(
      `${what}: empty address`,
      'Write --ip ADDR, --ip ADDR,ADDR (one gateway with two addresses) or --ip NAME=ADDR.',
    );
  }
  const addresses: string[] = [];
  for (const item of items) {
    const address = normalizeAddress(item, what);
    if (!addresses.includes(address)) addresses.push(address);
  }
  return { name, addresses };
}

function formatUrl(scheme: 'https' | 'http', host: string, port: number): string {
  const standard = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${port === standard ? '' : `:${port}`}`;
}

function checkPort(port: number, source: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(
      `${source} gives port ${port}, which devices cannot connect to`,
      'Pass the port devices use with --port (1–65535), e.g. when the listener binds port 0 or sits behind NAT.',
    );
  }
  return port;
}

/**
 * Warnings for `--alias` names: an alias only helps when the gateway's certificate covers
 * it (the device checks the name it connected to), and an alias of the upstream server's own
 * host name must never reach the gateway's own resolver.
 */
function aliasWarnings(aliases: readonly string[], identity: GatewayIdentity | undefined): string[] {
  const warnings: string[] = [];
  for (const alias of aliases) {
    const certificateNames = identity?.certificateNames;
    if (certificateNames === undefined) {
      warnings.push(
        `alias "${alias}" works only if the gateway's server certificate covers that name (no certificate was read: pass --config to check)`,
      );
    } else if (!certificateNames.some((n) => certificateNameCovers(n, alias))) {
      warnings.push(
        `alias "${alias}" is not among the server certificate's names (${certificateNames.join(', ') || 'none'}): devices connecting to it will fail the TLS check; reissue the certificate with --dns ${alias}`,
      );
    }
    if (identity !== undefined && alias === identity.upstreamHost) {
      warnings.push(
        `alias "${alias}" is the upstream server's host name: keep these entries away from the gateway's own resolver, or the gateway will connect to itself`,
      );
    }
  }
  return warnings;
}

/**
 * Build the plan. Throws `MGW_PROVISIONING_INVALID_INPUT` naming the culprit for a bad address
 * or name, a standby without a name, a name or address used by two gateways, no name at all,
 * an unusable port or a relative `ServerCertificate` path; nothing is rendered in that case.
 */
export function planDeviceHosts(input: DeviceHostsInput): DeviceHostsPlan {
  if (input.gateways.length === 0) {
    throw invalid(
      'no gateway address given',
      'Pass the address devices use to reach the gateway: --ip 10.0.0.1 (repeat --ip NAME=ADDR for standby gateways).',
    );
  }
  const specs = input.gateways.map(parseGatewaySpec);
  const identity = input.identity;
  const leftOut: LeftOutName[] = [...(identity?.leftOut ?? [])];
  const aliases: string[] = [];
  for (const alias of input.aliases ?? []) {
    const name = normalizeHostName(alias, `--alias "${alias}"`);
    const reserved = unclaimableReason(name);
    if (reserved !== undefined) {
      if (!leftOut.some((l) => l.name === name)) leftOut.push({ name, reason: reserved });
    } else if (!aliases.includes(name)) aliases.push(name);
  }

  const scheme = identity?.scheme ?? 'https';
  const port =
    input.port !== undefined
      ? checkPort(input.port, '--port')
      : identity !== undefined
        ? checkPort(identity.port, `${identity.portSource} of ${identity.source ?? 'the configuration'}`)
        : scheme === 'https'
          ? 443
          : 80;

  const owner = new Map<string, number>();
  const usedAddresses = new Map<string, number>();
  const gateways: PlannedGateway[] = specs.map((spec, index) => {
    const role = index === 0 ? 'primary' : 'standby';
    const names: string[] = [];
    const candidates =
      index === 0
        ? [...(spec.name === undefined ? [] : [spec.name]), ...(identity?.names ?? []), ...aliases]
        : spec.name === undefined
          ? []
          : [spec.name];
    for (const name of candidates) if (!names.includes(name)) names.push(name);

    const shown = input.gateways[index] ?? '';
    if (names.length === 0) {
      throw index === 0
        ? invalid(
            `no host name for the gateway at --ip "${shown}"`,
            'Devices need a name to check the gateway certificate against: pass --config (GatewayURL and certificate names), --ip NAME=ADDR or --alias NAME.',
          )
        : invalid(
            `standby gateway --ip "${shown}" has no name`,
            `Devices fail over between URLs, so each gateway needs its own name: --ip gw${index + 1}.example=${shown} (its certificate must cover that name).`,
          );
    }
    for (const name of names) {
      const other = owner.get(name);
      if (other !== undefined && other !== index) {
        throw invalid(
          `"${name}" would resolve to two gateways (--ip "${input.gateways[other] ?? ''}" and --ip "${shown}")`,
          'Give each gateway names of its own; the primary already answers to the configuration names and every --alias.',
        );
      }
      owner.set(name, index);
    }
    for (const address of spec.addresses) {
      const other = usedAddresses.get(address);
      if (other !== undefined) {
        throw invalid(
          `address ${address} is given for two gateways (--ip "${input.gateways[other] ?? ''}" and --ip "${shown}")`,
          'Each --ip is one gateway; list every address of one gateway in the same --ip, separated by commas.',
        );
      }
      usedAddresses.set(address, index);
    }
    const first = names[0] ?? '';
    return { role, names, addresses: spec.addresses, serverUrl: formatUrl(scheme, first, port) };
  });

  const certificatePath = input.serverCertificatePath ?? DEFAULT_SERVER_CERTIFICATE_PATH;
  if (certificatePath !== '' && !posix.isAbsolute(certificatePath)) {
    throw invalid(
      `--server-certificate-path "${certificatePath}" is not an absolute path`,
      'It is where the CA certificate lives on the device, e.g. /etc/mender/server.crt (pass "" to leave ServerCertificate out).',
    );
  }
  const primary = gateways[0];
  if (primary === undefined) throw new Error('internal: no primary gateway');
  const menderConf: MenderConfFragment =
    gateways.length === 1
      ? { ServerURL: primary.serverUrl }
      : { Servers: gateways.map((g) => ({ ServerURL: g.serverUrl })) };
  if (scheme === 'https' && certificatePath !== '') menderConf.ServerCertificate = certificatePath;

  const warnings = [
    ...(identity?.warnings ?? []),
    ...leftOut.map((l) => `left out "${l.name}": it ${l.reason}`),
    ...aliasWarnings(aliases, identity),
  ];
  if (scheme === 'http') {
    warnings.push(
      'the gateway serves devices over plain HTTP: anyone on the device network can impersonate it; enable HTTPS',
    );
  }

  return {
    gateways,
    hosts: gateways.flatMap((g) => g.addresses.map((address) => ({ address, names: [...g.names] }))),
    menderConf,
    leftOut,
    warnings,
  };
}
