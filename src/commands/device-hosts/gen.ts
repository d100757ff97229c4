import { resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { GatewayError, toGatewayError } from '../../core/errors.js';
import {
  DEFAULT_SERVER_CERTIFICATE_PATH,
  DEVICE_HOSTS_FORMATS,
  loadGatewayIdentity,
  planDeviceHosts,
  renderDeviceHosts,
  renderMenderConf,
} from '../../core/provisioning/index.js';
import type { DeviceHostsFormat, DeviceHostsPlan } from '../../core/provisioning/index.js';
import { writeTextOutputs } from '../../cli/output-files.js';
import type { TextOutput } from '../../cli/output-files.js';
import { renderError } from '../../cli/render-error.js';
import { isStdoutTarget } from '../../core/output-target.js';
import { key } from '../../core/config-key.js';

export interface DeviceHostsGenResult extends DeviceHostsPlan {
  /** Files written (absolute paths); empty when everything went to stdout. */
  written: string[];
}

export default class DeviceHostsGen extends GatewayCommand {
  static override summary =
    'Print the hosts entries, dnsmasq records and mender.conf settings devices need to reach the gateway.';

  static override description = `Devices on the segregated network must resolve the gateway's name to its address there, and check its certificate against that name. This command derives both from the gateway's configuration (--config: the GatewayURL host and the DNS names of ${key('HTTPS.ServerCertificate')}) and the address(es) given with --ip, and prints them as /etc/hosts lines, a dnsmasq snippet (host-record= lines) or JSON.

Each --ip is one gateway: ADDR, ADDR,ADDR (one gateway with an IPv4 and an IPv6 address) or NAME=ADDR. The first is the primary; it gets every configuration name and every --alias. The others are standbys and need a NAME of their own: the Mender client fails over between the URLs of its Servers list, so each gateway needs its own URL. A current (5.x) client changes server only when it authenticates again, so a Servers list alone does not move it when the primary crashes: drain the primary before planned maintenance (${key('Drain.Enabled')}, or SIGUSR2).

To cover a crash too, put two gateways behind one floating address (keepalived moving a virtual IP, docs/examples/keepalived/) and give a single --ip: that virtual address. Both gateways then share the configuration's names, a certificate covering them and the SignatureSecret; devices get one ServerURL. See docs/operator-guide.md §7.

--mender-conf FILE (or "-" for stdout when --out is a file) also writes the mender.conf fragment: ServerURL (one gateway) or Servers (primary first, then standbys), and ServerCertificate (the CA of the gateway's certificate, at --server-certificate-path on the device). With --format json the fragment is part of the document as "menderConf".

Nothing is written when any input is invalid. Existing files are replaced only with --force. Warnings (e.g. an --alias the certificate does not cover) go to stderr. See docs/provisioning.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --config /etc/mender/mender-gateway.conf --ip 10.0.0.1',
    '<%= config.bin %> <%= command.id %> -c mender-gateway.conf --ip 10.0.0.1,fd00::1 --ip gw2.site.example=10.0.0.2 --format dnsmasq --out /etc/dnsmasq.d/mender-gateway.conf --mender-conf mender.conf.json',
    '<%= config.bin %> <%= command.id %> -c mender-gateway.conf --ip 10.0.0.1 --alias hosted.mender.io --format json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    config: Flags.string({
      char: 'c',
      summary: "The gateway's mender-gateway.conf: names come from GatewayURL and the server certificate.",
      helpValue: 'FILE',
    }),
    ip: Flags.string({
      summary:
        'Gateway address on the device network: ADDR, ADDR,ADDR or NAME=ADDR. Repeat for standby gateways (primary first).',
      multiple: true,
      helpValue: '[NAME=]ADDR',
    }),
    alias: Flags.string({
      summary: 'Extra name resolving to the primary gateway (repeatable); its certificate must cover it.',
      multiple: true,
      helpValue: 'NAME',
    }),
    format: Flags.string({
      summary: 'Output format.',
      options: [...DEVICE_HOSTS_FORMATS],
      default: 'hosts',
    }),
    out: Flags.string({
      char: 'o',
      summary: 'Write the output to FILE instead of stdout ("-": stdout).',
      helpValue: 'FILE',
    }),
    'mender-conf': Flags.string({
      summary: 'Also write the mender.conf fragment (JSON) to FILE; "-" prints it on stdout (needs --out).',
      helpValue: 'FILE',
    }),
    'server-certificate-path': Flags.string({
      summary: `ServerCertificate in the fragment: where the gateway's CA certificate is on the device ("" leaves it out).`,
      default: DEFAULT_SERVER_CERTIFICATE_PATH,
      helpValue: 'PATH',
    }),
    port: Flags.integer({
      summary: 'Port devices connect to, if not the one in the configuration (NAT, port mapping).',
      helpValue: 'PORT',
      min: 1,
      max: 65535,
    }),
    force: Flags.boolean({ summary: 'Replace existing output files.', default: false }),
  };

  async run(): Promise<DeviceHostsGenResult> {
    const { flags } = await this.parse(DeviceHostsGen);
    const format = flags.format as DeviceHostsFormat;
    // "-" and /dev/stdout are standard output (written, never replaced as a file).
    const out = flags.out === undefined || isStdoutTarget(flags.out) ? undefined : flags.out;
    try {
      const menderConfTarget =
        flags['mender-conf'] !== undefined && isStdoutTarget(flags['mender-conf'])
          ? '-'
          : flags['mender-conf'];
      if (menderConfTarget === '-' && out === undefined) {
        throw new GatewayError(
          'MGW_PROVISIONING_INVALID_INPUT',
          '--mender-conf - and the main output both go to stdout',
          {
            hint: 'Write the main output to a file with --out FILE, or the fragment with --mender-conf FILE.',
          },
        );
      }
      if (out !== undefined && menderConfTarget !== undefined && resolve(out) === resolve(menderConfTarget)) {
        throw new GatewayError(
          'MGW_PROVISIONING_INVALID_INPUT',
          '--out and --mender-conf name the same file',
          {
            hint: 'Give them different files.',
          },
        );
      }

      const identity =
        flags.config === undefined ? undefined : await loadGatewayIdentity({ path: flags.config });
      const plan = planDeviceHosts({
        gateways: flags.ip ?? [],
        aliases: flags.alias ?? [],
        identity,
        port: flags.port,
        serverCertificatePath: flags['server-certificate-path'],
      });
      const text = renderDeviceHosts(plan, format);
      const fragment = renderMenderConf(plan.menderConf);

      const files: TextOutput[] = [];
      if (out !== undefined) files.push({ path: resolve(out), contents: text, flag: '--out' });
      if (menderConfTarget !== undefined && menderConfTarget !== '-') {
        files.push({ path: resolve(menderConfTarget), contents: fragment, flag: '--mender-conf' });
      }
      await writeTextOutputs(files, { force: flags.force });

      for (const warning of plan.warnings) this.logToStderr(`warning: ${warning}`);
      if (out === undefined) this.log(text.replace(/\n$/, ''));
      if (menderConfTarget === '-') this.log(fragment.replace(/\n$/, ''));
      for (const file of files) this.logToStderr(`wrote ${file.path}`);
      return { ...plan, written: files.map((f) => f.path) };
    } catch (err) {
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }
  }
}
