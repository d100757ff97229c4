import { Command, Errors } from '@oclif/core';
import { commandLine, reportCliError } from './cli-error.js';

/**
 * Base of every mender-gw command: failures, oclif's parse errors included, are reported
 * through {@link reportCliError}, never through oclif's default `catch` (which prints its
 * parser context under `--json`).
 */
export abstract class GatewayCommand extends Command {
  override catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const status = reportCliError(
      err,
      { json: this.jsonEnabled(), command: commandLine(this.id, this.config.bin) },
      {
        stdout: (text) => process.stdout.write(`${text}\n`),
        stderr: (text) => process.stderr.write(`${text}\n`),
      },
    );
    throw new Errors.ExitError(status);
  }
}
