import { describe, expect, it } from 'vitest';
import {
  connectionTokens,
  filterRawHeaders,
  filterResponseHeaders,
} from '../../../src/core/http/hop-by-hop.js';

describe('hop-by-hop header filtering (RFC 9110 §7.6.1)', () => {
  it('drops the fixed hop-by-hop set and every token named in Connection, keeping case, order and duplicates', () => {
    const raw = [
      'Host',
      'gw.local',
      'Connection',
      'keep-alive, X-Private',
      'X-Private',
      'secret',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'TE',
      'trailers',
      'Proxy-Authorization',
      'Basic abc',
      'Upgrade',
      'h2c',
      'X-MEN-Signature',
      'sig',
      'Accept',
      'a',
      'Accept',
      'b',
    ];
    expect(filterRawHeaders(raw, new Set(['host']))).toEqual([
      'X-MEN-Signature',
      'sig',
      'Accept',
      'a',
      'Accept',
      'b',
    ]);
  });

  it('parses Connection tokens from repeated headers case-insensitively', () => {
    expect([...connectionTokens(['close, X-A', ' x-b '])]).toEqual(['close', 'x-a', 'x-b']);
    expect(connectionTokens(undefined).size).toBe(0);
  });

  it('filters response headers the same way', () => {
    expect(
      filterResponseHeaders({
        connection: 'x-up',
        'x-up': '1',
        'transfer-encoding': 'chunked',
        'content-type': 'application/json',
        'set-cookie': ['a=1', 'b=2'],
        'x-men-requestid': 'r',
      }),
    ).toEqual({ 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'], 'x-men-requestid': 'r' });
  });
});
