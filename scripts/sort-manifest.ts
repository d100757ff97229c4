// `oclif manifest` lists commands in the order their modules finished loading, which varies from
// one checkout to another: CI's "is the manifest current?" check then failed on an unchanged
// command set. Sorting the commands by id makes the file a function of the commands alone.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../oclif.manifest.json', import.meta.url);
const manifest = JSON.parse(readFileSync(path, 'utf8')) as { commands: Record<string, unknown> };
manifest.commands = Object.fromEntries(
  Object.keys(manifest.commands)
    .sort()
    .map((id) => [id, manifest.commands[id]] as const),
);
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
