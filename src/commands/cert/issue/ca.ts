import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../../cli/gateway-command.js';
import { issueCaFiles } from '../../../core/pki/index.js';
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
import { checkNameAttribute, MAX_COMMON_NAME_LENGTH } from '../../../core/pki/index.js';
import { key } from '../../../core/config-key.js';

export default class CertIssueCa extends GatewayCommand {
  static override summary = 'Create a CA: a self-signed root, or an intermediate signed by another CA.';

  static override description = `Writes <name>.crt and <name>.key (default ca.crt, ca.key) to --out-dir. The key is PKCS#8 PEM with mode 0600; existing files are never replaced without --force.

The certificate has basicConstraints CA:TRUE with a path length (critical), keyUsage keyCertSign and cRLSign (critical), and subject/authority key identifiers. Without --ca-cert/--ca-key it is a self-signed root (path length 1 by default: it may sign one level of intermediates); with them it is an intermediate (path length 0: it signs only server and device certificates).

Give the root to the gateway as ${key('Features.mTLS.CACertificate')} and to devices as ServerCertificate (the CA of the gateway's server certificate). Keep ca.key offline.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --common-name "Acme Devices Root CA" --organization Acme --out-dir pki',
    '<%= config.bin %> <%= command.id %> --common-name "Acme Factory 1 CA" --ca-cert pki/ca.crt --ca-key pki/ca.key --name factory1 --out-dir pki',
    '<%= config.bin %> <%= command.id %> --common-name "Test CA" --key-type rsa --rsa-bits 4096 --days 1825 --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    'common-name': Flags.string({
      helpValue: 'NAME',
      summary: 'Common name (CN) of the CA. Prompted for in a terminal when missing.',
    }),
    organization: organizationFlag,
    ...keyFlags,
    days: daysFlag(3650, 'a CA lives on every device and is costly to replace'),
    'path-length': Flags.integer({
      helpValue: 'N',
      summary:
        'basicConstraints path length: 0 = signs only leaf certificates (default 1 for a root, 0 for an intermediate).',
      min: 0,
      max: 10,
    }),
    ...issuerFlags,
    name: Flags.string({
      helpValue: 'STEM',
      summary: 'File name stem: writes <name>.crt and <name>.key.',
      default: 'ca',
    }),
    ...outputFlags,
  };

  async run(): Promise<IssueResult> {
    const { flags } = await this.parse(CertIssueCa);
    return runIssueCommand(
      this,
      async () => {
        const ask = new InputResolver(canPrompt({ json: this.jsonEnabled() }));
        const commonName = await ask.text(flags['common-name'], {
          flag: '--common-name',
          message: 'CA common name (e.g. "Acme Devices Root CA")',
          validate: validateWith((v) => checkNameAttribute(v, 'CA common name', MAX_COMMON_NAME_LENGTH)),
        });
        let caKey = flags['ca-key'];
        if (flags['ca-cert'] !== undefined) {
          caKey = await ask.text(caKey, { flag: '--ca-key', message: `Private key of ${flags['ca-cert']}` });
        }
        ask.assertComplete();
        const key = await resolveKeyInputs(ask, flags);
        return issueCaFiles({
          commonName: commonName ?? '',
          organization: flags.organization,
          keyType: key.keyType,
          rsaBits: key.rsaBits,
          days: flags.days,
          pathLength: flags['path-length'],
          caCertificatePath: flags['ca-cert'],
          caKeyPath: caKey,
          name: flags.name,
          outDir: flags['out-dir'],
          force: flags.force,
          chain: flags.chain,
        });
      },
      (result, cwd) => {
        const ca = result.certificates[0];
        if (ca === undefined) return [];
        const cert = displayPath(ca.certificatePath, cwd);
        const key = displayPath(ca.keyPath, cwd);
        return [
          'next:',
          `  ${this.config.bin} cert issue server --ca-cert ${cert} --ca-key ${key} --dns <gateway host name>`,
          `  ${this.config.bin} cert issue device --ca-cert ${cert} --ca-key ${key} --identity mac=<device MAC>`,
        ];
      },
    );
  }
}
