import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import puppeteer from 'puppeteer-core';
import type { Browser } from 'puppeteer-core';

/**
 * Debian's Chromium (`apt-get install chromium`), driven by puppeteer-core over the DevTools
 * protocol (docs/decisions.md §22). `MGW_CHROMIUM` names another binary.
 */
export function findChromium(): string | undefined {
  const candidates =
    process.env.MGW_CHROMIUM !== undefined
      ? [process.env.MGW_CHROMIUM]
      : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'chromium'));
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** In CI (root with MGW_REQUIRE_PRIVILEGED=1, or CI set) a missing Chromium fails the test instead of skipping it. */
export const chromiumRequired = process.env.MGW_REQUIRE_PRIVILEGED === '1' || process.env.CI !== undefined;

export async function launchChromium(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: [
      '--headless=new',
      // Chromium refuses to run as root with its sandbox; CI runs the tests as root.
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      // Containers often have a 64 MiB /dev/shm.
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--no-default-browser-check',
    ],
  });
}
