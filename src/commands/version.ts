import { GatewayCommand } from '../cli/gateway-command.js';

export interface VersionResult {
  version: string;
  node: string;
  platform: string;
  arch: string;
}

export default class Version extends GatewayCommand {
  static override summary = 'Print the mender-gw version (also --version and -v).';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
  ];

  static override enableJsonFlag = true;

  async run(): Promise<VersionResult> {
    await this.parse(Version);
    this.log(this.config.userAgent);
    return {
      version: this.config.version,
      node: process.versions.node,
      platform: process.platform,
      arch: process.arch,
    };
  }
}
