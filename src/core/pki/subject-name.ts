import { GatewayError } from '../errors.js';

/** RFC 5280 Appendix A upper bounds: ub-common-name and ub-organization-name. */
export const MAX_COMMON_NAME_LENGTH = 64;
export const MAX_ORGANIZATION_LENGTH = 64;

/** A distinguished name in @peculiar/x509's JSON form: one RDN per element, X.500 order. */
export type JsonDistinguishedName = Record<string, string[]>[];

export interface SubjectInput {
  commonName: string;
  organization?: string | undefined;
}

/**
 * Check one attribute value: trimmed, non-empty, within its upper bound and free of control
 * characters (which other tools print badly or refuse).
 */
export function checkNameAttribute(value: string, what: string, maxLength: number): string {
  const text = value.trim();
  if (text === '') {
    throw new GatewayError('MGW_PKI_INVALID_INPUT', `the ${what} is empty`, {
      hint: `Give a non-empty ${what}.`,
    });
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `the ${what} ${JSON.stringify(text)} contains control characters`,
      {
        hint: 'Use printable characters only.',
      },
    );
  }
  if (Array.from(text).length > maxLength) {
    throw new GatewayError(
      'MGW_PKI_INVALID_INPUT',
      `the ${what} "${text}" is longer than ${maxLength} characters`,
      {
        hint: `X.509 limits it to ${maxLength} characters (RFC 5280 Appendix A); shorten it.`,
      },
    );
  }
  return text;
}

/**
 * Build a subject: `O=<organization>, CN=<common name>` (O only when given). Values are
 * stored as PrintableString when they fit and UTF8String otherwise (by @peculiar/x509).
 */
export function buildSubjectName(input: SubjectInput, what = 'common name'): JsonDistinguishedName {
  const name: JsonDistinguishedName = [];
  if (input.organization !== undefined) {
    name.push({ O: [checkNameAttribute(input.organization, 'organization', MAX_ORGANIZATION_LENGTH)] });
  }
  name.push({ CN: [checkNameAttribute(input.commonName, what, MAX_COMMON_NAME_LENGTH)] });
  return name;
}
