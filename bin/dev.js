#!/usr/bin/env -S npx tsx
// Runs the TypeScript sources directly (tsx, not ts-node: style doc C2).
import { execute } from '@oclif/core';

await execute({ development: true, dir: import.meta.url });
