import { relative, isAbsolute } from 'node:path';
import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { toGatewayError } from '../../core/errors.js';
import { applySetup } from '../../core/setup/index.js';
import type { SetupResult } from '../../core/setup/index.js';
import { canPrompt, isPromptAbort } from '../../cli/cert-issue.js';
import { renderError } from '../../cli/render-error.js';
import { createdCaPath, interviewSetup } from '../../cli/setup-interview.js';
import { key } from '../../core/config-key.js';

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export default class ConfigInit extends GatewayCommand {
  static override summary =
    'First-run wizard: write a valid mender-gateway.conf (and optionally a CA and server certificate).';

  static override description = `Asks for the upstream server, the name and address devices use to reach this gateway, the features to enable (artifacts proxy and cache, mTLS auto-accept, Device System) and whether to create a CA and server certificate, then writes mender-gateway.conf.

Every question has a flag. Questions are asked only when stdin and stdout are terminals and neither --no-prompt, --json nor the CI environment variable is set; otherwise missing required flags are an error naming all of them. Ctrl-C exits with status 130 and writes nothing.

The file is checked with the same code as "config validate" before it is written; an invalid configuration is never written. It is created with mode 0600 (it may hold the management password and the cache link secret) and an existing file is replaced only with --force. Certificates go to --cert-dir (default: pki/ next to the file) through the same code as "cert issue" and are never replaced. All paths in the file are absolute. See docs/provisioning.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --no-prompt --upstream-url https://hosted.mender.io --gateway-name gateway.site.example --gateway-ip 10.0.0.1 --create-certs --out /etc/mender/mender-gateway.conf',
    '$ MTLS_MENDER_PASSWORD=… <%= config.bin %> <%= command.id %> --no-prompt --upstream-url https://mender.example.com --gateway-name gw.site.example --server-cert server.crt --server-key server.key --mtls --mtls-ca devices-ca.crt --mender-username gateway@example.com --no-enable-cache',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    out: Flags.string({
      char: 'o',
      summary: 'Configuration file to write.',
      default: './mender-gateway.conf',
      helpValue: 'FILE',
    }),
    force: Flags.boolean({ summary: 'Replace an existing configuration file.', default: false }),
    'no-prompt': Flags.boolean({
      summary: 'Never ask; take everything from flags and defaults (missing required flags are an error).',
      default: false,
    }),
    'upstream-url': Flags.string({
      summary: `URL of the upstream Mender server (${key('UpstreamServer.URL')}).`,
      helpValue: 'URL',
    }),
    'upstream-ca': Flags.string({
      summary: `PEM bundle of a private CA of the upstream server (${key('UpstreamServer.CACertificate')}).`,
      helpValue: 'FILE',
    }),
    'gateway-name': Flags.string({
      summary: 'DNS name devices use to reach the gateway (GatewayURL host, server certificate name).',
      helpValue: 'NAME',
    }),
    'gateway-ip': Flags.string({
      summary: 'Address of the gateway on the device network (HTTPS listen address, server certificate IP).',
      helpValue: 'ADDR',
    }),
    'https-port': Flags.integer({
      helpValue: 'PORT',
      summary: 'HTTPS port devices connect to (default 443).',
      min: 1,
      max: 65535,
    }),
    'create-certs': Flags.boolean({
      summary: 'Create a CA and a server certificate for --gateway-name/--gateway-ip in --cert-dir.',
      allowNo: true,
    }),
    'cert-dir': Flags.string({
      summary: 'Directory for the created CA and server certificate (default: pki/ next to --out).',
      helpValue: 'DIR',
    }),
    'server-cert': Flags.string({
      summary: 'Existing server certificate (PEM) instead of --create-certs.',
      helpValue: 'FILE',
    }),
    'server-key': Flags.string({ summary: 'Private key of --server-cert (PEM).', helpValue: 'FILE' }),
    'artifacts-proxy': Flags.boolean({
      summary: 'Route artifact downloads through the gateway (default on).',
      allowNo: true,
    }),
    'domain-whitelist': Flags.string({
      summary:
        'Storage host names the proxy may download from (repeatable or comma-separated; default from the upstream URL).',
      multiple: true,
      delimiter: ',',
      helpValue: 'HOST',
    }),
    'enable-cache': Flags.boolean({
      summary: 'Cache artifacts on disk (default on; needs the artifacts proxy).',
      allowNo: true,
    }),
    'cache-path': Flags.string({
      summary: 'Cache directory (default /var/cache/mender-gateway).',
      helpValue: 'DIR',
    }),
    'signature-secret': Flags.string({
      summary: 'Base64 key that signs cache links (default: 32 random bytes); share it between replicas.',
      helpValue: 'BASE64',
    }),
    mtls: Flags.boolean({
      summary: 'Enable mTLS: device client certificates and auto-accept (default off).',
      allowNo: true,
    }),
    'mtls-ca': Flags.string({
      summary: 'CA of the device certificates (default with --create-certs: the created CA).',
      helpValue: 'FILE',
    }),
    'mender-username': Flags.string({
      summary: 'Mender user that preauthorizes devices (mTLS).',
      helpValue: 'USER',
    }),
    'mender-password': Flags.string({
      summary: 'Password of --mender-username (mTLS); better from the environment.',
      env: 'MTLS_MENDER_PASSWORD',
      helpValue: 'PASSWORD',
    }),
    'system-id': Flags.string({
      summary: 'Enable Device System with this mender_gateway_system_id.',
      helpValue: 'ID',
    }),
  };

  async run(): Promise<SetupResult> {
    const { flags } = await this.parse(ConfigInit);
    let result: SetupResult;
    let caPath: string | undefined;
    let gatewayIp: string | undefined;
    try {
      const interactive = !flags['no-prompt'] && canPrompt({ json: this.jsonEnabled() });
      const answers = await interviewSetup(flags, { interactive });
      caPath = createdCaPath(answers);
      gatewayIp = answers.gatewayIp;
      result = await applySetup({ answers, out: flags.out, force: flags.force });
    } catch (err) {
      if (isPromptAbort(err)) this.exit(130);
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }

    const cwd = process.cwd();
    for (const warning of result.warnings) this.logToStderr(warning);
    const file = shown(result.file, cwd);
    this.log(`wrote ${file} (mode 0600)`);
    for (const cert of result.certificates) {
      this.log(
        `created ${cert.role === 'ca' ? 'CA' : cert.role} certificate ${shown(cert.certificatePath, cwd)} (key ${shown(cert.keyPath, cwd)}, mode 0600)`,
      );
    }
    this.log('next:');
    this.log(`  ${this.config.bin} config validate --config ${file}`);
    const ip = gatewayIp ?? '<gateway address>';
    this.log(
      `  ${this.config.bin} device-hosts gen --config ${file} --ip ${ip} --mender-conf mender.conf.json`,
    );
    if (caPath !== undefined) {
      this.log(
        `  copy ${shown(caPath, cwd)} to every device as /etc/mender/server.crt; keep ${shown(caPath.replace(/\.crt$/, '.key'), cwd)} offline`,
      );
    }
    this.log(`  ${this.config.bin} serve --config ${file}`);
    return result;
  }
}
