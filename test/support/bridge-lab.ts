import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A network namespace on the lab's bridge, reached through its `eth0`. */
export interface LabNode {
  name: string;
  netns: string;
  /** Its own address on the bridge's /24. */
  address: string;
  iface: 'eth0';
}

/**
 * One Linux bridge in the root namespace with network namespaces plugged into it by veth pairs:
 * a small L2 segment a test owns. Names carry a random id, so parallel runs and leftovers of a
 * killed run never clash; the /24 is picked in the benchmarking range 198.18.0.0/15 (RFC 2544),
 * which no real network routes, among the prefixes not already on this machine.
 */
export interface BridgeLab {
  id: string;
  bridge: string;
  /** `/24` prefix length of every address. */
  prefixLength: 24;
  /** `<subnet>.host`. */
  address(host: number): string;
  /** Adds `<subnet>.host/24` to the bridge itself: reachable from the test process (root namespace). */
  addBridgeAddress(host: number): Promise<string>;
  /** Creates namespace `name` with `eth0` = `<subnet>.host/24` and `lo` up. */
  addNode(name: string, host: number): Promise<LabNode>;
  /** `ip -n <netns> …` output. */
  ip(node: LabNode, args: string[]): Promise<string>;
  /** Deletes every namespace and the bridge (their veth pairs go with them). Idempotent. */
  destroy(): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

async function freeSubnet(): Promise<string> {
  const inUse = `${await ip(['-4', '-o', 'addr', 'show'])}\n${await ip(['-4', 'route', 'show', 'table', 'all'])}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const subnet = `198.${18 + randomInt(2)}.${randomInt(1, 255)}`;
    if (!inUse.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free /24 in 198.18.0.0/15 on this machine');
}

export async function createBridgeLab(): Promise<BridgeLab> {
  const id = randomBytes(3).toString('hex');
  const bridge = `mgwbr${id}`;
  const subnet = await freeSubnet();
  const nodes: LabNode[] = [];
  let destroyed: Promise<void> | undefined;

  const destroy = (): Promise<void> => {
    destroyed ??= (async () => {
      const errors: unknown[] = [];
      for (const node of nodes)
        await ip(['netns', 'delete', node.netns]).catch((e: unknown) => errors.push(e));
      await ip(['link', 'delete', bridge]).catch((e: unknown) => errors.push(e));
      if (errors.length > 0) console.warn(`[bridge lab ${id}] teardown: ${errors.map(String).join('; ')}`);
    })();
    return destroyed;
  };

  try {
    await ip(['link', 'add', bridge, 'type', 'bridge']);
    await ip(['link', 'set', bridge, 'up']);
  } catch (error) {
    await destroy();
    throw error;
  }

  const lab: BridgeLab = {
    id,
    bridge,
    prefixLength: 24,
    address: (host) => `${subnet}.${host}`,
    async addBridgeAddress(host) {
      const address = lab.address(host);
      await ip(['addr', 'add', `${address}/24`, 'dev', bridge]);
      return address;
    },
    async addNode(name, host) {
      const node: LabNode = { name, netns: `mgw-${id}-${name}`, address: lab.address(host), iface: 'eth0' };
      // veth names are limited to 15 bytes: `mgw` + id + index.
      const outer = `mgw${id}n${nodes.length}`;
      await ip(['netns', 'add', node.netns]);
      nodes.push(node);
      await ip(['link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
      await ip(['link', 'set', outer, 'master', bridge, 'up']);
      await ip(['-n', node.netns, 'addr', 'add', `${node.address}/24`, 'dev', 'eth0']);
      await ip(['-n', node.netns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', node.netns, 'link', 'set', 'lo', 'up']);
      return node;
    },
    ip: (node, args) => ip(['-n', node.netns, ...args]),
    destroy,
  };
  return lab;
}
