/**
 * `JSON.parse` with a line:column for syntax errors.
 *
 * V8 reports errors as "… in JSON at position N" for some mistakes and as
 * `Unexpected token 'x', "<the whole text>" is not valid JSON` (no position at all) for
 * others. Config errors must say where (docs/decisions.md §5),
 * so when V8 gives no offset a small strict scanner finds the first offending character.
 */

export type JsonParseResult =
  | { ok: true; value: unknown }
  | {
      ok: false;
      /** 1-based line and column (UTF-16 code units, as editors count for BMP text). */
      line: number;
      column: number;
      /** What is wrong, e.g. `Expected double-quoted property name (trailing comma?)`. */
      reason: string;
    };

export function parseJsonWithLocation(text: string): JsonParseResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const reported = /at position (\d+)/.exec(message)?.[1];
    const offset = reported !== undefined ? Number(reported) : findSyntaxErrorOffset(text);
    const { line, column } = lineColumn(text, offset);
    return { ok: false, line, column, reason: describe(message, text, offset) };
  }
}

/** 1-based line and column of a UTF-16 offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/** V8's reason without the position and without V8's echo of the document (it may hold secrets). */
function describe(message: string, text: string, offset: number): string {
  const here = text[offset];
  let reason = message.replace(/ in JSON at position \d+.*$/s, '').trim();
  if (/is not valid JSON/.test(reason)) {
    // `Unexpected token 'x', "<document or ...excerpt>" is not valid JSON`
    reason =
      /^Unexpected token /.test(reason) && here !== undefined
        ? `Unexpected token ${JSON.stringify(here)}`
        : 'invalid JSON';
  }
  if (reason === '') reason = 'invalid JSON';
  const previous = text.slice(0, offset).trimEnd().at(-1);
  if ((here === '}' || here === ']') && previous === ',')
    reason += ' (trailing comma? JSON does not allow one)';
  else if (here === '/' || here === '#') reason += ' (comments are not allowed in JSON)';
  else if (here === "'") reason += ' (JSON strings use double quotes)';
  else if (/after (property value|array element)/.test(reason)) reason += ' (missing comma?)';
  return reason;
}

class ScanError extends Error {
  constructor(readonly offset: number) {
    super('json scan error');
  }
}

/**
 * Offset of the first character that makes `text` invalid JSON (RFC 8259), or
 * `text.length` when the text ends too early. Only called after `JSON.parse` failed.
 */
export function findSyntaxErrorOffset(text: string): number {
  let i = 0;
  const fail = (at: number = i): ScanError => new ScanError(at);
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] ?? '')) i++;
  };
  const literal = (word: string): void => {
    for (const ch of word) {
      if (text[i] !== ch) throw fail();
      i++;
    }
  };
  const digits = (): void => {
    const start = i;
    while (/[0-9]/.test(text[i] ?? '')) i++;
    if (i === start) throw fail();
  };
  const number = (): void => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else digits();
    if (text[i] === '.') {
      i++;
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      digits();
    }
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      const c = text[i];
      if (c === undefined) throw fail();
      if (c === '"') {
        i++;
        return;
      }
      if (c.charCodeAt(0) < 0x20) throw fail();
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw fail(i + 1);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw fail(i + 1);
      } else i++;
    }
  };
  const value = (): void => {
    const c = text[i];
    if (c === '{') object();
    else if (c === '[') array();
    else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else throw fail();
  };
  const object = (): void => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') throw fail();
      string();
      ws();
      if (text[i] !== ':') throw fail();
      i++;
      ws();
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      throw fail();
    }
  };
  const array = (): void => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      throw fail();
    }
  };

  try {
    ws();
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (err) {
    if (err instanceof ScanError) return err.offset;
    throw err;
  }
}
