#!/usr/bin/env node
// drctl runs from its TypeScript sources through tsx, so `npm ci` needs no build step
// and what runs is always what is checked in.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// When main returns, the command has stopped everything it started: exit now, so that a handle leaked by
// a dependency can never keep a finished command (a drill, a failover) from returning to its caller.
process.exit(code);
