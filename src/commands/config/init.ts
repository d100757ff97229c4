import { isAbsolute, join, relative, resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { toGatewayError } from '../../core/errors.js';
import { applySetup, SETUP_DEFAULTS } from '../../core/setup/index.js';
import type { SetupResult } from '../../core/setup/index.js';
import { canPrompt, isPromptAbort } from '../../cli/cert-issue.js';
import { renderError } from '../../cli/render-error.js';
import { isExitSignal } from '../../cli/cli-error.js';
import { createdCaPath, inquirerSetupPrompter, interviewSetup } from '../../cli/setup-interview.js';
import type { SetupPrompter } from '../../cli/setup-interview.js';
import { noPromptCommandLine, SECRET_FLAG_ENV, setupSummary } from '../../cli/setup-summary.js';
import type { SetupAnswers } from '../../core/setup/index.js';
import { key } from '../../core/config-key.js';

function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export default class ConfigInit extends GatewayCommand {
  static override summary =
    'First-run wizard: write a valid mender-gateway.conf (and optionally a CA and server certificate).';

  static override description = `Asks for the upstream server, the name and address devices use to reach this gateway, the features to enable (artifacts proxy and cache, mTLS auto-accept, Device System) and whether to create a CA and server certificate, then writes mender-gateway.conf.

Every question has a flag. Questions are asked only when stdin and stdout are terminals and neither --no-prompt, --json nor the CI environment variable is set; otherwise missing required flags are an error naming all of them. Each answer is checked when it is typed (files with the same checks as "config validate": certificates parse, the key matches, the server certificate covers the gateway name and address, the mTLS CA is a CA); a wrong one is asked again. The run ends with a summary and "Write this configuration?", then prints the equivalent --no-prompt command (secrets as environment variables). Ctrl-C exits with status 130 and writes nothing.

The file is checked with the same code as "config validate" before it is written; an invalid configuration is never written. It is created with mode 0600 (it may hold the management password and the cache link secret), or 0640 with group --service-group, and an existing file is replaced only with --force (which keeps its SignatureSecret). Certificates go to --cert-dir (default: pki/ next to the file) through the same code as "cert issue" and are never replaced; the CA key goes to --ca-key-out, outside the configuration folder, unless --keep-ca-key. HTTPS listens on all interfaces unless --listen-address; with mTLS, plain HTTP on 127.0.0.1:--health-port serves the health probes. All paths in the file are absolute. See docs/provisioning.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --no-prompt --upstream-url https://hosted.mender.io --gateway-name gateway.site.example --gateway-ip 10.0.0.1 --create-certs --ca-key-out /media/usb/mender-gw-ca/ca.key --service-group mender-gw --out /etc/mender/mender-gateway.conf',
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
      summary:
        'IP address devices use to reach the gateway (server certificate IP, device hosts files); does not restrict the listener.',
      helpValue: 'ADDR',
    }),
    'listen-address': Flags.string({
      summary: 'Local address HTTPS listens on (default: all interfaces).',
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
    'ca-key-out': Flags.string({
      summary:
        'With --create-certs: write the CA key here (and the CA certificate beside it as .crt), outside the configuration folder.',
      helpValue: 'FILE',
    }),
    'keep-ca-key': Flags.boolean({
      summary:
        'With --create-certs: leave the CA key in --cert-dir beside the configuration (not recommended).',
    }),
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
      summary:
        "Base64 key that signs cache links (default: the replaced file's with --force, else 32 random bytes); share it between replicas.",
      env: SECRET_FLAG_ENV['signature-secret'],
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
      env: SECRET_FLAG_ENV['mender-password'],
      helpValue: 'PASSWORD',
    }),
    'system-id': Flags.string({
      summary: 'Enable Device System with this mender_gateway_system_id.',
      helpValue: 'ID',
    }),
    'health-port': Flags.integer({
      summary: 'With --mtls: port of the plain-HTTP health listener on 127.0.0.1 (default 8080).',
      min: 1,
      max: 65535,
      helpValue: 'PORT',
    }),
    'service-group': Flags.string({
      summary:
        'Group of the service user (e.g. mender-gw): the configuration and created server key get it with mode 0640.',
      helpValue: 'GROUP',
    }),
  };

  /** The prompts; tests may replace them. */
  protected prompter: SetupPrompter = inquirerSetupPrompter;

  async run(): Promise<SetupResult> {
    const { flags } = await this.parse(ConfigInit);
    let result: SetupResult;
    let answers: SetupAnswers;
    const cwd = process.cwd();
    const interactive = !flags['no-prompt'] && canPrompt({ json: this.jsonEnabled() });
    try {
      answers = await interviewSetup(flags, { interactive, prompter: this.prompter });
      if (interactive) {
        this.log('');
        this.log('summary:');
        for (const line of setupSummary(answers, shown(resolve(cwd, flags.out), cwd), cwd)) this.log(line);
        if (!(await this.prompter.confirm({ message: 'Write this configuration?', default: true }))) {
          this.logToStderr('nothing written');
          this.exit(1);
        }
      }
      result = await applySetup({ answers, out: flags.out, force: flags.force });
    } catch (err) {
      if (isPromptAbort(err)) {
        this.logToStderr('aborted, nothing written');
        this.exit(130);
      }
      if (isExitSignal(err)) throw err;
      if (this.jsonEnabled()) throw toGatewayError(err);
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }

    for (const warning of result.warnings) this.logToStderr(warning);
    const file = shown(result.file, cwd);
    const group = answers.serviceGroup;
    this.log(
      `wrote ${file} (mode ${result.mode.toString(8).padStart(4, '0')}${group === undefined ? '' : `, group ${group}`})`,
    );
    if (result.signatureSecretKept) this.log(`kept the SignatureSecret of the replaced ${file}`);
    for (const cert of result.certificates) {
      // --service-group opens the server key to the service; the CA key stays the owner's.
      const keyMode = cert.role !== 'ca' && group !== undefined ? `mode 0640, group ${group}` : 'mode 0600';
      this.log(
        `created ${cert.role === 'ca' ? 'CA' : cert.role} certificate ${shown(cert.certificatePath, cwd)} (key ${shown(cert.keyPath, cwd)}, ${keyMode})`,
      );
    }
    for (const line of this.nextSteps(answers, result, file, cwd)) this.log(line);
    if (interactive) {
      this.log('the same configuration without questions:');
      this.log(
        `  ${noPromptCommandLine(answers, { out: result.file, cwd, bin: this.config.bin, force: flags.force })}`,
      );
    }
    return result;
  }

  private nextSteps(answers: SetupAnswers, result: SetupResult, file: string, cwd: string): string[] {
    const bin = this.config.bin;
    const lines = ['next:'];
    if (answers.serviceGroup === undefined) {
      // The packaged unit runs as mender-gw (packaging/mender-gw.service): it must read these.
      const key = answers.createCerts ? join(resolve(cwd, answers.certDir), 'server.key') : answers.serverKey;
      const files = [result.file, ...(key === undefined ? [] : [resolve(cwd, key)])];
      lines.push(
        `  let the service read them: chown root:mender-gw ${files.join(' ')} && chmod 0640 ${files.join(' ')}${answers.createCerts ? ` && chown root:mender-gw ${resolve(cwd, answers.certDir)} && chmod 0750 ${resolve(cwd, answers.certDir)}` : ''}`,
      );
    } else if (!answers.createCerts && answers.serverKey !== undefined) {
      const key = resolve(cwd, answers.serverKey);
      lines.push(
        `  let the service read the key: chown root:${answers.serviceGroup} ${key} && chmod 0640 ${key}`,
      );
    }
    lines.push(`  ${bin} config validate --config ${file}`);
    const ip = answers.gatewayIp ?? '<gateway address>';
    lines.push(`  ${bin} device-hosts gen --config ${file} --ip ${ip} --mender-conf mender.conf.json`);
    const caPath = createdCaPath(answers);
    if (caPath !== undefined) {
      lines.push(`  copy ${shown(caPath, cwd)} to every device as /etc/mender/server.crt`);
      if (result.caKey !== undefined) {
        lines.push(
          answers.keepCaKey === true
            ? `  move ${shown(result.caKey, cwd)} off the gateway (anyone with it can issue certificates devices trust)`
            : `  keep ${shown(result.caKey, cwd)} offline; it issues device certificates (cert issue device --ca-key) and renews the server certificate`,
        );
      }
    }
    lines.push(`  ${bin} serve --config ${file}`);
    const health = answers.mtls
      ? `http://127.0.0.1:${answers.healthPort ?? SETUP_DEFAULTS.healthPort}`
      : `https://${answers.gatewayName}${answers.httpsPort === 443 ? '' : `:${answers.httpsPort}`}`;
    lines.push(
      `  curl -i ${answers.mtls ? '' : '-k '}${health}/api/internal/v1/gateway/alive  # 204${answers.mtls ? ' (loopback health listener: HTTPS demands client certificates)' : ''}`,
    );
    return lines;
  }
}
