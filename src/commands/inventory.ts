import { GatewayCommand } from '../cli/gateway-command.js';
import { loadConfig } from '../core/config/load-config.js';
import type { GatewayConfig } from '../core/config/gateway-config.js';
import { formatInventoryLines, gatewayHostInventory } from '../core/device-system/gateway-host-inventory.js';
import type { GatewayHostInventory } from '../core/device-system/gateway-host-inventory.js';
import { renderError } from '../cli/render-error.js';
import { key } from '../core/config-key.js';
import { configFlag } from '../cli/config-flag.js';

export default class InventoryCommand extends GatewayCommand {
  static override summary = "Print the gateway host's own Mender inventory (an inventory script).";

  static override description = `For the Mender client that runs on the gateway host itself: prints mender_is_gateway=true and, when ${key('Features.DeviceSystem')} is on, mender_gateway_system_id=<SystemID>, one attribute per line, as a Mender inventory script does. Mender's UI uses both to show the gateway with the devices behind it. Install docs/examples/inventory/mender-inventory-mender-gateway (which runs this command) in the client's inventory folder (/usr/share/mender/inventory).

The configuration is read as "serve" reads it. When it cannot be loaded, mender_is_gateway=true is still printed, the problem goes to stderr and the exit status stays 0: a failing inventory script loses all of its attributes.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    config: configFlag(),
  };

  async run(): Promise<GatewayHostInventory> {
    const { flags } = await this.parse(InventoryCommand);
    let config: GatewayConfig | undefined;
    try {
      ({ config } = await loadConfig({ path: flags.config }));
    } catch (err) {
      this.logToStderr(renderError(err).text);
    }
    const inventory = gatewayHostInventory(config);
    for (const warning of inventory.warnings) this.logToStderr(`warning: ${warning}`);
    if (!this.jsonEnabled()) process.stdout.write(formatInventoryLines(inventory));
    return inventory;
  }
}
