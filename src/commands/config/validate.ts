import { Errors, Flags } from '@oclif/core';
import { GatewayCommand } from '../../cli/gateway-command.js';
import { formatConfigIssue, validateConfig } from '../../core/index.js';
import type { ConfigValidation } from '../../core/index.js';
import { renderError } from '../../cli/render-error.js';
import { configFlag } from '../../cli/config-flag.js';

export default class ConfigValidate extends GatewayCommand {
  static override summary =
    'Check a mender-gateway.conf and its environment overrides without starting the gateway.';

  static override description = `Runs every check "serve" runs at start-up except opening the ports: JSON syntax (with line:column), key names and types, environment overrides (and warnings for misspelt gateway variables such as HTTPS_LISTN), values (URLs, host:port, Go durations, TLS versions), rules between keys, and the files: the server certificate and key parse and belong together, CA bundles hold certificates, the mTLS CA is a CA, the blacklist parses, and the cache directory is usable.

--offline-files skips every file check, for CI where the files exist only on the target machine.

Warnings (unknown keys and variables, insecure settings) go to stderr and do not fail the check unless --strict is given. Exit status: 0 when valid, 1 when not. With --json the verdict is printed on stdout as {valid, file, errors, warnings} in both cases, for CI.

Without --config, /etc/mender/mender-gateway.conf is read if it exists, else the environment alone.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --config ./mender-gateway.conf',
    '<%= config.bin %> <%= command.id %> --config site.conf --offline-files --strict',
    '$ UPSTREAM_SERVER_URL=https://hosted.mender.io HTTPS_ENABLED=false HTTP_ENABLED=true <%= config.bin %> <%= command.id %> --json',
  ];

  static override enableJsonFlag = true;

  static override flags = {
    config: configFlag(),
    'offline-files': Flags.boolean({
      summary: 'Skip the checks of the files the configuration names (they exist only on the target).',
      default: false,
    }),
    strict: Flags.boolean({ summary: 'Fail (exit 1) on warnings too.', default: false }),
  };

  async run(): Promise<ConfigValidation> {
    const { flags } = await this.parse(ConfigValidate);
    let result: ConfigValidation;
    try {
      result = await validateConfig({ path: flags.config, checkFiles: !flags['offline-files'] });
    } catch (err) {
      // Not a config problem (those are in the result) but a bug: oclif's JSON error under --json.
      if (this.jsonEnabled()) throw err;
      const { text, exitCode } = renderError(err);
      this.logToStderr(text);
      this.exit(exitCode);
    }

    // log/logToStderr print nothing under --json; the returned result is the output.
    for (const warning of result.warnings) this.logToStderr(formatConfigIssue(warning));
    const where = result.file ?? '(environment only)';
    const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
    const warnings = result.warnings.length;
    if (result.valid && (warnings === 0 || !flags.strict)) {
      const skipped = flags['offline-files'] ? ', files not checked' : '';
      this.log(`configuration is valid: ${where} (${plural(warnings, 'warning')}${skipped})`);
      return result;
    }
    if (result.valid) {
      // --strict: the same document, judged invalid because of its warnings.
      result = { ...result, valid: false };
      this.logToStderr(`configuration is invalid under --strict: ${where} (${plural(warnings, 'warning')})`);
      if (this.jsonEnabled()) this.logJson(result);
      this.exit(1);
    }
    for (const error of result.errors) this.logToStderr(formatConfigIssue(error));
    const count = result.errors.length;
    this.logToStderr(`configuration is invalid: ${where} (${count} error${count === 1 ? '' : 's'})`);
    // oclif prints a returned result under --json only on success; print it ourselves so CI
    // gets the same document either way, then exit 1.
    if (this.jsonEnabled()) this.logJson(result);
    this.exit(1);
  }

  /**
   * `this.exit(1)` throws an ExitError. oclif's default `catch` would print it as a second,
   * error-shaped JSON document under --json; the verdict is already on stdout.
   */
  override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    return super.catch(err);
  }
}
