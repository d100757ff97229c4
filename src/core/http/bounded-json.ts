import { GatewayError, isGatewayError } from '../errors.js';

/**
 * Upper bound of every JSON body the gateway reads itself (auth requests, inventory updates):
 * 1 MiB is the Mender server's own default request limit (docs/security.md), so nothing
 * legitimate is larger. Larger bodies are refused with 413 while they are read (readBoundedBody).
 */
export const MAX_JSON_BODY = 1024 * 1024;

/**
 * Deepest nesting accepted. Mender's documents are a few levels deep; V8's JSON.parse takes
 * any depth, but JSON.stringify, logging and every other recursive walk of the result overflow
 * the stack somewhere past a few thousand levels (a 500 before this bound).
 */
export const MAX_JSON_DEPTH = 64;

export type JsonRefusal = 'not-json' | 'too-deep';

/**
 * Nesting depth of a JSON text, counted without recursion and given up as soon as it passes
 * `max`: brackets inside strings do not count, and an escaped quote does not end a string.
 * Malformed text is left to JSON.parse to reject.
 */
function deeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * Parse JSON from a device, bounded in depth. Throws `MGW_BAD_REQUEST` (400) whose
 * `details.refusal` says why: `too-deep` or `not-json`; `what` names the document in the message.
 * The size bound is applied earlier, while the body is read (MAX_JSON_BODY).
 */
export function parseBoundedJson(text: string | Buffer, what: string, maxDepth = MAX_JSON_DEPTH): unknown {
  const source = typeof text === 'string' ? text : text.toString('utf8');
  const refuse = (refusal: JsonRefusal, message: string): GatewayError =>
    new GatewayError('MGW_BAD_REQUEST', message, {
      hint: `Mender documents are small and shallow; this one is not (limit ${maxDepth} levels).`,
      details: { refusal },
    });
  if (deeperThan(source, maxDepth))
    throw refuse('too-deep', `${what} is nested deeper than ${maxDepth} levels`);
  try {
    return JSON.parse(source) as unknown;
  } catch {
    throw refuse('not-json', `${what} is not JSON`);
  }
}

/** The reason a {@link parseBoundedJson} error gives, or `undefined` for any other error. */
export function jsonRefusal(error: unknown): JsonRefusal | undefined {
  if (!isGatewayError(error) || error.code !== 'MGW_BAD_REQUEST') return undefined;
  return (error.details as { refusal?: JsonRefusal } | undefined)?.refusal;
}
