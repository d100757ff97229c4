import { readFile } from 'node:fs/promises';
import { GatewayError } from '../errors.js';

/**
 * `config init --service-group GROUP`: the group of the service user (the packaged systemd
 * unit runs as mender-gw:mender-gw, docs/packaging.md) gets read access to the files the
 * gateway must read but not write: the configuration (0640) and the created server key
 * (0640), and may enter the certificate folder (0750).
 */
export const SERVICE_GROUP_MODES = { file: 0o640, directory: 0o750 } as const;

/**
 * The numeric id of `group`: a number as is, a name from /etc/group (the local groups, which
 * is where packages create system groups; a group only known to NSS, e.g. LDAP, needs its
 * number).
 */
export async function resolveServiceGroup(group: string, groupFile = '/etc/group'): Promise<number> {
  const name = group.trim();
  if (/^\d+$/.test(name)) return Number(name);
  let text = '';
  try {
    text = await readFile(groupFile, 'utf8');
  } catch {
    // No local group database: only numeric ids can be resolved.
  }
  for (const line of text.split('\n')) {
    const [entry, , gid] = line.split(':');
    if (entry === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new GatewayError('MGW_SETUP_INVALID_INPUT', `there is no group "${name}" on this host`, {
    hint: 'Install the package first (it creates the mender-gw user and group), create the group (groupadd --system mender-gw), or pass its numeric id.',
  });
}
