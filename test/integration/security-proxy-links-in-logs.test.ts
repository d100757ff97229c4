import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startCacheScenario, DEVICE_TYPE } from '../support/cache-scenario.js';
import type { CacheScenario } from '../support/cache-scenario.js';
import { pollNext } from '../support/simulated-device.js';
import type { SimulatedDevice } from '../support/simulated-device.js';

/**
 * Proxy-only mode hands devices a gateway link that carries the whole presigned storage URL,
 * signature and credential included, base64url-encoded in the path. The access log wrote that
 * path as it was. No credential may appear in a log line above debug, however it is encoded.
 */
describe('presigned storage links never reach the logs above debug (proxy-only mode)', () => {
  let s: CacheScenario;
  let device: SimulatedDevice;

  beforeAll(async () => {
    s = await startCacheScenario({ cache: false });
    device = await s.newDevice();
  });
  afterAll(async () => {
    await s.close();
  });

  it('a download through a proxy link, a resume and a tampered link log no signature or credential in any encoding', async () => {
    s.addArtifact('proxy-logs', 64 * 1024);
    const answer = await pollNext(s.gw.url, device, { device_type: DEVICE_TYPE, artifact_name: 'initial' });
    const link = answer.json!.artifact.source.uri;
    const encoded = link.slice(link.lastIndexOf('/') + 1);
    const storageUrl = Buffer.from(encoded, 'base64url').toString('utf8');
    const query = new URL(storageUrl).searchParams;
    const signature = query.get('X-Amz-Signature');
    const credential = query.get('X-Amz-Credential');
    expect(signature).not.toBeNull();
    expect(credential).not.toBeNull();

    for (const headers of [{}, { range: 'bytes=100-199' }]) {
      const res = await request(link, { headers });
      await res.body.dump();
      expect([200, 206]).toContain(res.statusCode);
    }
    // A link whose storage URL was altered: refused, and still not logged.
    const res = await request(`${link.slice(0, -4)}AAAA`);
    await res.body.dump();
    await s.gw.logs.waitFor((l) => l.msg === 'request' && typeof l.status === 'number' && l.status >= 400);

    const forms = new Set<string>();
    for (const secret of [signature!, credential!, storageUrl]) {
      forms.add(secret);
      forms.add(encodeURIComponent(secret));
      forms.add(Buffer.from(secret).toString('base64'));
      forms.add(Buffer.from(secret).toString('base64url'));
    }
    forms.add(encoded);
    // Any 12 consecutive characters of the encoded link would identify it.
    const fragments = [encoded.slice(0, 24), encoded.slice(-24)];
    const visible = s.gw.logs.lines.filter((l) => l.level !== 'debug' && l.level !== 'trace');
    expect(visible.length).toBeGreaterThan(0);
    for (const line of visible) {
      const text = JSON.stringify(line);
      for (const form of [...forms, ...fragments])
        expect(text, `log line leaks a credential: ${text}`).not.toContain(form);
    }
  });
});
