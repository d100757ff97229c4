#!/usr/bin/env node
import { flush, run } from '@oclif/core';
import { reportCliError, wantsJson } from '../dist/cli/cli-error.js';

// Not oclif's execute(): its error handler prints oclif's own format. Every failure that
// escapes a command (unknown command, errors before a command runs) is reported in the one
// error format of docs/operator-guide.md instead.
const argv = process.argv.slice(2);
try {
  await run(argv, import.meta.url);
  await flush();
} catch (err) {
  process.exitCode = reportCliError(
    err,
    { json: wantsJson(argv) },
    {
      stdout: (text) => process.stdout.write(`${text}\n`),
      stderr: (text) => process.stderr.write(`${text}\n`),
    },
  );
}
