import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../../cli/gateway-command.js';
import { buildSubjectAltNames, issueServerFiles, splitHostNames } from '../../../core/pki/index.js';
import type { IssueResult } from '../../../core/pki/index.js';
import {
  canPrompt,
  daysFlag,
  displayPath,
  InputResolver,
  issuerFlags,
  keyFlags,
  organizationFlag,
  outputFlags,
  resolveKeyInputs,
  runIssueCommand,
  validateWith,
} from '../../../cli/cert-issue.js';
import { key } from '../../../core/config-key.js';

export default class CertIssueServer extends GatewayCommand {
  static override summary =
    "Issue the gateway's TLS server certificate for the names and addresses devices use.";

  static override description = `Writes <name>.crt and <name>.key (default server.crt, server.key) to --out-dir, signed by --ca-cert/--ca-key. Every --dns name and --ip address goes into subjectAltName (TLS clients match only those); the first one is also the CN. extKeyUsage is serverAuth.

When the CA is an intermediate, server.crt holds the certificate followed by the intermediates (--no-chain for the certificate alone), which is what ${key('HTTPS.ServerCertificate')} expects: devices usually trust only the root.

Configure the gateway with ${key('HTTPS.ServerCertificate')}=server.crt and ${key('HTTPS.ServerKey')}=server.key.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --ca-cert pki/ca.crt --ca-key pki/ca.key --dns gateway.example.com --ip 10.0.0.1 --out-dir pki',
    '<%= config.bin %> <%= command.id %> --ca-cert ca.crt --ca-key ca.key --dns gw.local,gateway --key-type rsa --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    dns: Flags.string({
      summary:
        'DNS name devices use to reach the gateway (repeatable, or comma-separated). The first name is the CN.',
      multiple: true,
      delimiter: ',',
      helpValue: 'NAME',
    }),
    ip: Flags.string({
      summary: 'IP address devices use to reach the gateway (repeatable, or comma-separated).',
      multiple: true,
      delimiter: ',',
      helpValue: 'ADDR',
    }),
    organization: organizationFlag,
    ...keyFlags,
    days: daysFlag(
      825,
      'the longest TLS server lifetime Apple platforms accept; the gateway certificate is easy to renew',
    ),
    ...issuerFlags,
    name: Flags.string({
      helpValue: 'STEM',
      summary: 'File name stem: writes <name>.crt and <name>.key.',
      default: 'server',
    }),
    ...outputFlags,
  };

  async run(): Promise<IssueResult> {
    const { flags } = await this.parse(CertIssueServer);
    return runIssueCommand(
      this,
      async () => {
        const ask = new InputResolver(canPrompt({ json: this.jsonEnabled() }));
        const caCert = await ask.text(flags['ca-cert'], {
          flag: '--ca-cert',
          message: 'Issuing CA certificate (PEM file)',
        });
        const caKey = await ask.text(flags['ca-key'], {
          flag: '--ca-key',
          message: 'Issuing CA private key (PEM file)',
        });
        let dns = flags.dns ?? [];
        let ip = flags.ip ?? [];
        if (dns.length === 0 && ip.length === 0) {
          const names = await ask.text(undefined, {
            flag: '--dns or --ip',
            message: 'Host names and IP addresses devices use to reach the gateway (comma-separated)',
            validate: validateWith((v) => buildSubjectAltNames(splitHostNames(v))),
          });
          if (names !== undefined) ({ dns, ip } = splitHostNames(names));
        }
        ask.assertComplete();
        const key = await resolveKeyInputs(ask, flags);
        return issueServerFiles({
          dns,
          ip,
          organization: flags.organization,
          keyType: key.keyType,
          rsaBits: key.rsaBits,
          days: flags.days,
          caCertificatePath: caCert,
          caKeyPath: caKey,
          name: flags.name,
          outDir: flags['out-dir'],
          force: flags.force,
          chain: flags.chain,
        });
      },
      (result, cwd) => {
        const server = result.certificates[0];
        if (server === undefined) return [];
        return [
          'next: in mender-gateway.conf set',
          `  "HTTPS": {"Enabled": true, "ServerCertificate": "${displayPath(server.certificatePath, cwd)}", "ServerKey": "${displayPath(server.keyPath, cwd)}"}`,
        ];
      },
    );
  }
}
