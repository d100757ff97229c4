/**
 * For `it.skipIf` / `describe.skipIf`: returns `skip` unchanged and, when it is true, prints why,
 * so no test is ever skipped silently.
 */
export function skipBecause(skip: boolean, what: string, reason: string): boolean {
  if (skip) console.warn(`[skipped] ${what}: ${reason}`);
  return skip;
}
