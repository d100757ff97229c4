import type { InventoryAttribute } from '../config/gateway-config.js';
import { jsonRefusal, parseBoundedJson } from '../http/bounded-json.js';

/** Upstream accepts at most this many attributes per update (docs/protocol.md §2.3; inventory config.go). */
export const MAX_INVENTORY_ATTRIBUTES = 100;
export const SYSTEM_ID_ATTRIBUTE = 'mender_gateway_system_id';

export interface InjectionResult {
  /** The new body, or `undefined` when the body is not an attribute array and must pass unchanged. */
  body: Buffer | undefined;
  added: string[];
  /** Names that were not added because the update would exceed MAX_INVENTORY_ATTRIBUTES. */
  dropped: string[];
}

function isAttributeArray(value: unknown): value is { name: string }[] {
  return (
    Array.isArray(value) &&
    value.every(
      (a) => typeof a === 'object' && a !== null && typeof (a as { name?: unknown }).name === 'string',
    )
  );
}

/**
 * Device System injection (docs/protocol.md §5): add `mender_gateway_system_id` and every
 * DefaultInventory attribute the device did not send itself — the device's value always wins,
 * which also makes an inner gateway's system id win in a chain (docs/protocol.md §9.5). The body is
 * re-serialised compactly; the caller sends its new length (the MEN-7738 bug). Throws
 * `MGW_BAD_REQUEST` for a body nested too deeply (see parseBoundedJson).
 */
export function injectInventory(
  body: Buffer,
  systemId: string,
  defaults: readonly InventoryAttribute[],
): InjectionResult {
  let parsed: unknown;
  try {
    parsed = parseBoundedJson(body, 'inventory body');
  } catch (err) {
    // Not JSON: upstream judges it (docs/architecture.md). Too deep: refused here (400), since
    // re-encoding or logging it would overflow the stack.
    if (jsonRefusal(err) === 'not-json') return { body: undefined, added: [], dropped: [] };
    throw err;
  }
  if (!isAttributeArray(parsed)) return { body: undefined, added: [], dropped: [] };
  const present = new Set(parsed.map((a) => a.name));
  const wanted: InventoryAttribute[] = [{ name: SYSTEM_ID_ATTRIBUTE, value: systemId }, ...defaults];
  const attributes: unknown[] = [...parsed];
  const added: string[] = [];
  const dropped: string[] = [];
  for (const attribute of wanted) {
    if (present.has(attribute.name)) continue;
    present.add(attribute.name);
    if (attributes.length >= MAX_INVENTORY_ATTRIBUTES) {
      dropped.push(attribute.name);
      continue;
    }
    attributes.push({ name: attribute.name, value: attribute.value });
    added.push(attribute.name);
  }
  return { body: Buffer.from(JSON.stringify(attributes)), added, dropped };
}
