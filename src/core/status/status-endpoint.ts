import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Instrumentation } from '../diagnostics.js';
import type { Logger } from '../logger.js';
import { RecentActivity } from './recent-activity.js';
import { StatusSnapshotBuilder } from './status-snapshot.js';
import type { StatusSources } from './status-snapshot.js';
import { StatusStream } from './status-stream.js';
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from './status-page-html.js';

export const STATUS_PATHS = { page: '/status', json: '/status.json', events: '/status/events' } as const;

/** The status page's routes on the admin listener, and what must be released at close. */
export interface StatusEndpoint {
  /** Answers a status route and returns true; false for any other path. */
  handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  close(): void;
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/**
 * The read-only status page (docs/operator-guide.md §6): `GET /status` (HTML), `/status.json`
 * (a snapshot) and `/status/events` (the same snapshots as server-sent events). It subscribes to
 * the gateway's diagnostics channels for recent activity from the moment it is created.
 */
export function createStatusEndpoint(
  instrumentation: Instrumentation,
  sources: Omit<StatusSources, 'activity'>,
  logger: Logger,
): StatusEndpoint {
  const activity = new RecentActivity();
  const unsubscribe = activity.subscribe(instrumentation);
  const builder = new StatusSnapshotBuilder({ ...sources, activity });
  const stream = new StatusStream(() => builder.build(), logger);
  return {
    handle(req, res) {
      const path = (req.url ?? '').split('?')[0];
      if (path !== STATUS_PATHS.page && path !== STATUS_PATHS.json && path !== STATUS_PATHS.events)
        return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return true;
      }
      if (path === STATUS_PATHS.page) {
        res.writeHead(200, {
          ...COMMON_HEADERS,
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': STATUS_PAGE_CSP,
          'x-frame-options': 'DENY',
        });
        res.end(req.method === 'HEAD' ? undefined : STATUS_PAGE_HTML);
      } else if (path === STATUS_PATHS.events) {
        stream.open(res);
      } else {
        builder.build().then(
          (snapshot) => {
            res.writeHead(200, {
              ...COMMON_HEADERS,
              'content-type': 'application/json; charset=utf-8',
              'content-security-policy': "default-src 'none'",
            });
            res.end(req.method === 'HEAD' ? undefined : JSON.stringify(snapshot));
          },
          (err: unknown) => {
            logger.error({ error: String(err) }, 'status snapshot failed');
            res.writeHead(500, COMMON_HEADERS).end();
          },
        );
      }
      return true;
    },
    close() {
      stream.close();
      unsubscribe();
    },
  };
}
