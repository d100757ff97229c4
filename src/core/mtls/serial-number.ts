/**
 * Certificate serial numbers in one canonical form (docs/protocol.md §3.3, §9.10): upper-case
 * hex without `0x`, colons, spaces or leading zeros. Tools print serials differently
 * (`openssl x509 -serial` → `serial=0A1B…`, browsers → `0a:1b:…`, Node → `0A1B…`), and a
 * revocation that misses because of formatting is a device that stays in.
 * Returns `undefined` for anything that is not a hex number.
 */
export function normaliseSerial(text: string): string | undefined {
  let s = text.trim();
  if (/^serial\s*=/i.test(s)) s = s.replace(/^serial\s*=\s*/i, '');
  s = s.replace(/^0x/i, '').replace(/[:\s-]/g, '');
  if (s === '' || !/^[0-9a-f]+$/i.test(s)) return undefined;
  s = s.replace(/^0+/, '');
  return s === '' ? '0' : s.toUpperCase();
}
