#!/usr/bin/env node
// drctl runs from its TypeScript sources through tsx, so `npm ci` needs no build step
// and what runs is always what is checked in.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
