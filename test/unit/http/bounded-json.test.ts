import { describe, expect, it } from 'vitest';
import { jsonRefusal, MAX_JSON_DEPTH, parseBoundedJson } from '../../../src/core/http/bounded-json.js';

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

function refusalOf(text: string): string | undefined {
  try {
    parseBoundedJson(text, 'doc');
    return undefined;
  } catch (err) {
    return jsonRefusal(err);
  }
}

describe('parseBoundedJson', () => {
  it('parses documents up to the depth limit and refuses deeper ones with 400', () => {
    expect(parseBoundedJson(nested(MAX_JSON_DEPTH), 'doc')).toBeInstanceOf(Array);
    expect(refusalOf(nested(MAX_JSON_DEPTH + 1))).toBe('too-deep');
    expect(() => parseBoundedJson(nested(100_000), 'doc')).toThrow(/doc is nested deeper than 64 levels/);
    expect(refusalOf(`{"a":${nested(200)}}`)).toBe('too-deep');
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ s: '['.repeat(500), t: `"\\${'{'.repeat(500)}` });
    expect(parseBoundedJson(text, 'doc')).toEqual(JSON.parse(text));
  });

  it('refuses text that is not JSON, with a reason other errors do not carry', () => {
    expect(refusalOf('{"a":')).toBe('not-json');
    expect(refusalOf(']]]]')).toBe('not-json');
    expect(jsonRefusal(new Error('other'))).toBeUndefined();
  });
});
