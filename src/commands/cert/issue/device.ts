import { basename, dirname } from 'node:path';
import { Flags } from '@oclif/core';
import { countOf, startProgress } from '../../../cli/progress-display.js';
import { GatewayCommand } from '../../../cli/gateway-command.js';
import { issueDeviceFiles, MAX_DEVICE_BATCH, parseDeviceIdentity } from '../../../core/pki/index.js';
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

export default class CertIssueDevice extends GatewayCommand {
  static override summary =
    'Issue mTLS client certificates for devices, one or a batch, each with its own key.';

  static override description = `Writes device-<identity>.crt and device-<identity>.key per device to --out-dir, signed by --ca-cert/--ca-key. The identity value is the subject CN (mac=02:00:00:00:00:01 → CN=02:00:00:00:00:01; file device-02-00-00-00-00-01.crt); extKeyUsage is clientAuth.

A batch is either --identity with --count N, counting up from a MAC address or from a trailing number (dev-0001, dev-0002, …), or --identities-file with one identity per line (# comments allowed). Every output file is checked before anything is written: a batch is written completely or not at all. A batch also writes manifest.csv and manifest.json (identity, serial number, SHA-256 fingerprint, file names) to --out-dir for factory records; --no-manifest leaves them out, --manifest writes them for a single device too.

A one-line summary goes to stderr, with a progress count while keys are generated when stderr is a terminal; the details of each certificate are printed on stdout for a single device, or for a batch with --verbose.

On the device, point the Mender client's HttpsClient.Certificate and HttpsClient.Key at the two files.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> --ca-cert pki/ca.crt --ca-key pki/ca.key --identity mac=02:00:00:00:00:01',
    '<%= config.bin %> <%= command.id %> --ca-cert pki/ca.crt --ca-key pki/ca.key --identity mac=02:00:00:00:00:01 --count 100 --out-dir factory/batch-7',
    '<%= config.bin %> <%= command.id %> --ca-cert pki/ca.crt --ca-key pki/ca.key --identities-file serials.txt --key-type ed25519 --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    identity: Flags.string({
      char: 'i',
      summary: 'Device identity, "name=value" or a bare value; the value becomes the CN.',
      exclusive: ['identities-file'],
      helpValue: 'NAME=VALUE',
    }),
    count: Flags.integer({
      helpValue: 'N',
      summary: `Issue this many, counting up from --identity (MAC address or trailing number; at most ${MAX_DEVICE_BATCH}).`,
      min: 1,
      max: MAX_DEVICE_BATCH,
      dependsOn: ['identity'],
    }),
    'identities-file': Flags.string({
      summary: 'File with one identity per line (blank lines and # comments are skipped).',
      exclusive: ['identity', 'count'],
      helpValue: 'FILE',
    }),
    organization: organizationFlag,
    ...keyFlags,
    days: daysFlag(3650, 'devices cannot renew by themselves and may stay offline for years'),
    ...issuerFlags,
    ...outputFlags,
    manifest: Flags.boolean({
      summary:
        'Write manifest.csv and manifest.json to --out-dir (default: for --count and --identities-file batches).',
      allowNo: true,
    }),
    verbose: Flags.boolean({
      summary: 'Print every certificate of a batch on stdout, not only the summary on stderr.',
    }),
  };

  async run(): Promise<IssueResult> {
    const { flags } = await this.parse(CertIssueDevice);
    const json = this.jsonEnabled();
    let seconds = 0;
    return runIssueCommand(
      this,
      async () => {
        const ask = new InputResolver(canPrompt({ json }));
        const caCert = await ask.text(flags['ca-cert'], {
          flag: '--ca-cert',
          message: 'Issuing CA certificate (PEM file)',
        });
        const caKey = await ask.text(flags['ca-key'], {
          flag: '--ca-key',
          message: 'Issuing CA private key (PEM file)',
        });
        let identity = flags.identity;
        if (flags['identities-file'] === undefined) {
          identity = await ask.text(identity, {
            flag: '--identity or --identities-file',
            message: 'Device identity (e.g. mac=02:00:00:00:00:01)',
            validate: validateWith(parseDeviceIdentity),
          });
        }
        ask.assertComplete();
        const key = await resolveKeyInputs(ask, flags);
        const started = performance.now();
        const progress = startProgress('Issuing device certificates', { json });
        try {
          const result = await issueDeviceFiles({
            identity,
            count: flags.count,
            identitiesFile: flags['identities-file'],
            organization: flags.organization,
            keyType: key.keyType,
            rsaBits: key.rsaBits,
            days: flags.days,
            caCertificatePath: caCert,
            caKeyPath: caKey,
            outDir: flags['out-dir'],
            force: flags.force,
            chain: flags.chain,
            manifest: flags.manifest,
            onProgress: progress.drawing ? (p) => progress.update(countOf(p.done, p.total)) : undefined,
          });
          progress.stop();
          seconds = (performance.now() - started) / 1000;
          return result;
        } catch (err) {
          progress.stop('failed');
          throw err;
        }
      },
      () => [],
      {
        showCertificates: (result) => flags.verbose || result.certificates.length === 1,
        summary: (result, cwd) => [batchSummary(result, seconds, cwd)],
      },
    );
  }
}

/** `issued 1000 device certificates in 12.3 s → factory/batch-7/ (manifest.csv, manifest.json)` */
function batchSummary(result: IssueResult, seconds: number, cwd: string): string {
  const n = result.certificates.length;
  const first = result.certificates[0];
  const dir = first === undefined ? '.' : displayPath(dirname(first.certificatePath), cwd);
  const manifest =
    result.manifest === undefined
      ? ''
      : ` (${basename(result.manifest.csvPath)}, ${basename(result.manifest.jsonPath)})`;
  return `issued ${n} device certificate${n === 1 ? '' : 's'} in ${seconds.toFixed(1)} s → ${dir}/${manifest}`;
}
