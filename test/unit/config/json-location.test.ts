import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  findSyntaxErrorOffset,
  lineColumn,
  parseJsonWithLocation,
} from '../../../src/core/config/json-location.js';

describe('JSON syntax errors with line:column', () => {
  it('converts V8 "position N" into line:column', () => {
    const result = parseJsonWithLocation('{\n  "a": 1,\n  "b": 2,\n}');
    expect(result).toEqual({
      ok: false,
      line: 4,
      column: 1,
      reason: 'Expected double-quoted property name (trailing comma? JSON does not allow one)',
    });
  });

  it('locates errors V8 reports without a position and never echoes the document', () => {
    const text = '{\n  "MenderPassword": "hunter2",\n  "x": tru\n}';
    const result = parseJsonWithLocation(text);
    expect(result).toMatchObject({ ok: false, line: 3, column: 11 });
    if (!result.ok) {
      expect(result.reason).toBe('Unexpected token "\\n"');
      expect(result.reason).not.toContain('hunter2');
    }
  });

  it('explains comments, single quotes and missing commas', () => {
    expect(parseJsonWithLocation('{\n  // note\n  "a": 1\n}')).toMatchObject({
      line: 2,
      column: 3,
      reason: expect.stringMatching(/comments are not allowed/),
    });
    expect(parseJsonWithLocation("{'a': 1}")).toMatchObject({
      reason: expect.stringMatching(/double quotes/),
    });
    expect(parseJsonWithLocation('{"a": 1\n "b": 2}')).toMatchObject({
      line: 2,
      column: 2,
      reason: expect.stringMatching(/missing comma/),
    });
  });

  it('points past the end for truncated input', () => {
    expect(parseJsonWithLocation('{"a": [1, 2')).toMatchObject({ ok: false, line: 1, column: 12 });
    expect(parseJsonWithLocation('')).toMatchObject({ ok: false, line: 1, column: 1 });
  });

  it('computes 1-based lines and columns', () => {
    expect(lineColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });

  it('the scanner never throws and stays in range; reasons never echo the document (property)', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom(...'{}[]":,0123-.e tfnrualsx\\\n'.split('')),
      maxLength: 16,
    });
    fc.assert(
      fc.property(jsonish, (text) => {
        const offset = findSyntaxErrorOffset(text);
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThanOrEqual(text.length);
        const result = parseJsonWithLocation(text);
        if (!result.ok) {
          expect(result.line).toBeGreaterThanOrEqual(1);
          expect(result.reason).not.toMatch(/is not valid JSON/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
