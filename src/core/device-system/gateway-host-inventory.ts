import type { GatewayConfig } from '../config/gateway-config.js';
import { SYSTEM_ID_ATTRIBUTE } from './inventory-injection.js';
import { key } from '../config-key.js';

/** What Mender's UI keys the gateway host itself on (docs/protocol.md §1). */
export const IS_GATEWAY_ATTRIBUTE = 'mender_is_gateway';

export interface GatewayHostInventory {
  /** `name=value` lines, as a Mender inventory script prints them. */
  attributes: { name: string; value: string }[];
  /** Why an attribute was left out, for the operator (stderr). */
  warnings: string[];
}

/**
 * The inventory attributes of the gateway host's own Mender client (docs/protocol.md §1): Mender
 * Gateway installs an inventory script reporting `mender_is_gateway=true` and, when Device System
 * is on, `mender_gateway_system_id`, so Mender's UI can show the gateway and the devices behind it
 * as one system. `config` is `undefined` when the configuration could not be loaded: the host is
 * still a gateway, and saying so is better than an inventory script that fails (the client then
 * drops all of its output).
 */
export function gatewayHostInventory(config: GatewayConfig | undefined): GatewayHostInventory {
  const attributes = [{ name: IS_GATEWAY_ATTRIBUTE, value: 'true' }];
  const warnings: string[] = [];
  const system = config?.deviceSystem;
  if (system?.enabled === true && system.systemId !== undefined) {
    // One attribute per line (https://docs.mender.io/client-installation/inventory): a line break
    // in the value would forge further attributes.
    if (/[\r\n]/.test(system.systemId))
      warnings.push(
        `${SYSTEM_ID_ATTRIBUTE} left out: ${key('Features.DeviceSystem.SystemID')} contains a line break`,
      );
    else attributes.push({ name: SYSTEM_ID_ATTRIBUTE, value: system.systemId });
  }
  return { attributes, warnings };
}

/** The script's standard output. */
export function formatInventoryLines(inventory: GatewayHostInventory): string {
  return inventory.attributes.map((a) => `${a.name}=${a.value}\n`).join('');
}
