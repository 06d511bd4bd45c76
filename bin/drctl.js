#!/usr/bin/env node
// drctl runs from its TypeScript sources through tsx, so `npm ci` needs no build step
// and what runs is always what is checked in.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// When main returns, the command has stopped everything it started. Exit now rather than when the event
// loop drains: after a drill, Node 20 can spin for ever in its exit-time handle cleanup.
process.exit(code);
