import { beforeAll, describe, expect, it } from 'vitest';
import { onlyLeafExpired } from '../../../src/core/mtls/client-certificate-check.js';
import { expiredValidity, issueFixture } from './x509-fixtures.js';
import type { FixtureCert } from './x509-fixtures.js';

/**
 * The InsecureSkipClientExpireAfter path (docs/protocol.md §3.3): OpenSSL's verdict is set aside
 * for an expired leaf, so the gateway must itself prove the leaf chains to a configured anchor.
 */
describe('onlyLeafExpired', () => {
  const now = new Date();
  let root: FixtureCert;
  let intermediate: FixtureCert;
  let foreignRoot: FixtureCert;

  beforeAll(async () => {
    root = await issueFixture('device root');
    intermediate = await issueFixture('device intermediate', { issuer: root });
    foreignRoot = await issueFixture('someone else');
  });

  it('accepts an expired leaf signed by an anchor', async () => {
    const leaf = await issueFixture('dev-1', { issuer: root, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], now)).toBe(true);
  });

  it('accepts an expired leaf under an intermediate the device sent', async () => {
    const leaf = await issueFixture('dev-2', { issuer: intermediate, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(leaf.cert, [intermediate.cert, root.cert], [root.cert], now)).toBe(true);
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], now)).toBe(false);
    // A configured intermediate is an anchor of its own (Go semantics, allowPartialTrustChain).
    expect(onlyLeafExpired(leaf.cert, [], [intermediate.cert], now)).toBe(true);
  });

  it('refuses an expired leaf from another CA even when the device sends that CA', async () => {
    const leaf = await issueFixture('dev-3', { issuer: foreignRoot, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(leaf.cert, [foreignRoot.cert], [root.cert], now)).toBe(false);
    expect(onlyLeafExpired(leaf.cert, [foreignRoot.cert], [], now)).toBe(false);
  });

  it('refuses a leaf that has not expired (any other fault must stay fatal)', async () => {
    const leaf = await issueFixture('dev-4', { issuer: root, ca: false });
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], now)).toBe(false);
  });

  it('judges NotBefore and NotAfter at the given time', async () => {
    const leaf = await issueFixture('dev-5', {
      issuer: root,
      ca: false,
      notBefore: new Date(now.getTime() + 86_400_000),
      notAfter: new Date(now.getTime() + 2 * 86_400_000),
    });
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], new Date(now.getTime() + 3 * 86_400_000))).toBe(true);
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], now)).toBe(false);
  });

  it('refuses a chain through an expired intermediate or a non-CA issuer', async () => {
    const oldIntermediate = await issueFixture('old intermediate', { issuer: root, ...expiredValidity() });
    const viaOld = await issueFixture('dev-6', { issuer: oldIntermediate, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(viaOld.cert, [oldIntermediate.cert], [root.cert], now)).toBe(false);

    const notCa = await issueFixture('not a CA', { issuer: root, ca: false });
    const viaLeaf = await issueFixture('dev-7', { issuer: notCa, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(viaLeaf.cert, [notCa.cert], [root.cert], now)).toBe(false);
  });

  it('refuses a leaf whose signature does not verify with the anchor that carries its issuer name', async () => {
    const impostor = await issueFixture('device root'); // same name, other key
    const leaf = await issueFixture('dev-8', { issuer: impostor, ca: false, ...expiredValidity() });
    expect(onlyLeafExpired(leaf.cert, [], [root.cert], now)).toBe(false);
  });
});
