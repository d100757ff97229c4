import type { TestPki } from '../test-pki.js';

export interface FakeUpstreamOptions {
  /** Serve HTTPS (default) or plain HTTP on both hosts. */
  tls?: boolean;
  /** CA to issue the two server certificates from; a fresh one (removed on close) otherwise. */
  pki?: TestPki;
  /**
   * Addresses the two hosts listen on (their certificates cover them); default API `127.0.0.1`,
   * storage `127.0.0.2`. A test with network namespaces puts them on its bridge.
   */
  hosts?: { api: string; storage: string };
  /** Accept every new auth set on its first request, as if an operator clicked "accept". */
  autoAcceptDevices?: boolean;
  /** Default true: `POST /api/devices/v2/…/next` exists; false = open-source server, 404 there (docs/protocol.md §2.2). */
  v2Next?: boolean;
  /** Gzip JSON responses when `Accept-Encoding` allows it, as upstream traefik does (docs/protocol.md §4.1). */
  gzip?: boolean;
  /** Management user for `useradm` login (docs/protocol.md §3.4). */
  management?: { username: string; password: string };
  /** Tenant id in JWTs and storage object paths. */
  tenantId?: string;
  /** Device JWT lifetime; default one week (docs/protocol.md §2.1). */
  deviceJwtLifetimeSeconds?: number;
  /** Management JWT lifetime; default one week (docs/protocol.md §3.4). */
  managementJwtLifetimeSeconds?: number;
  /** Lifetime of presigned storage links; default 24 h, deployments' default (docs/protocol.md §2.2). */
  linkExpireSeconds?: number;
  /** WebSocket ping interval; the server pings every 30 s and drops after 60 s without pong (docs/protocol.md §2.6). */
  wsPingIntervalMs?: number;
}

export interface ResolvedOptions {
  tls: boolean;
  hosts: { api: string; storage: string };
  autoAcceptDevices: boolean;
  v2Next: boolean;
  gzip: boolean;
  management: { username: string; password: string };
  tenantId: string;
  deviceJwtLifetimeSeconds: number;
  managementJwtLifetimeSeconds: number;
  linkExpireSeconds: number;
  wsPingIntervalMs: number;
}

export const DEFAULT_MANAGEMENT = { username: 'gw@example.com', password: 's3cret-password' } as const;

export function resolveOptions(options: FakeUpstreamOptions): ResolvedOptions {
  return {
    tls: options.tls ?? true,
    hosts: options.hosts ?? { api: '127.0.0.1', storage: '127.0.0.2' },
    autoAcceptDevices: options.autoAcceptDevices ?? false,
    v2Next: options.v2Next ?? true,
    gzip: options.gzip ?? false,
    management: options.management ?? { ...DEFAULT_MANAGEMENT },
    tenantId: options.tenantId ?? '5f9a3c1e2b7d4a0012345678',
    deviceJwtLifetimeSeconds: options.deviceJwtLifetimeSeconds ?? 604_800,
    managementJwtLifetimeSeconds: options.managementJwtLifetimeSeconds ?? 604_800,
    linkExpireSeconds: options.linkExpireSeconds ?? 86_400,
    wsPingIntervalMs: options.wsPingIntervalMs ?? 30_000,
  };
}
