import { GatewayCommand } from '../../cli/gateway-command.js';
import { showConfig } from '../../core/config/show-config.js';
import type { ConfigShow } from '../../core/config/show-config.js';
import { renderError } from '../../cli/render-error.js';
import { configFlag } from '../../cli/config-flag.js';

export default class ConfigShowCommand extends GatewayCommand {
  static override summary = 'Print the settings serve would run with, each value with its source.';

  static override description = `Reads the configuration file and the environment exactly as "serve" does and prints every key of the configuration as KEY = VALUE with where its value came from: "default", the file, or an environment variable (by name). A key with no value and no default shows null. Secrets (MenderPassword, SignatureSecret) are shown as [redacted]. An invalid configuration is refused with the same errors as "serve".

Without --config, /etc/mender/mender-gateway.conf is read if it exists, else the environment alone.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    config: configFlag(),
  };

  async run(): Promise<ConfigShow> {
    const { flags } = await this.parse(ConfigShowCommand);
    let shown: ConfigShow;
    try {
      shown = await showConfig({ path: flags.config });
    } catch (err) {
      if (this.jsonEnabled()) throw err;
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
    this.log(`# ${shown.file ?? '(environment only)'}`);
    const width = Math.max(...shown.settings.map((s) => s.key.length));
    for (const setting of shown.settings)
      this.log(`${setting.key.padEnd(width)} = ${JSON.stringify(setting.value)}  # ${setting.source}`);
    return shown;
  }
}
