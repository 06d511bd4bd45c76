/**
 * The provider registry: every provider drctl ships, listed once. Adding a provider means adding its
 * folder and one line here.
 */
import type { Provider } from './provider.ts';
import { httpProvider } from './http/index.ts';
import { processProvider } from './process/index.ts';
import { shell } from './shell/index.ts';
import { postgresProvider } from './postgres/index.ts';
import { routerProvider } from './router/index.ts';
import { filesProvider } from './files/index.ts';
import { sqliteProvider } from './sqlite/index.ts';
import { resticProvider } from './restic/index.ts';
import { pgbackrestProvider } from './pgbackrest/index.ts';
import { haproxyProvider } from './haproxy/index.ts';
import { dnsProvider } from './dns/index.ts';

export type {
  Provider,
  ProviderAction,
  ProviderCheck,
  ActionContext,
  ActionResult,
  CheckResult,
  ReadinessFact,
  HostNeed,
  FrontDoorOptions,
  RunningFrontDoor,
  Isolation,
  IsolatedCopy,
  IsolatedCopyOptions,
} from './provider.ts';
export { defineAction, defineCheck } from './provider.ts';
export { checkStepActions } from './validate-params.ts';

export const providers: readonly Provider[] = [
  httpProvider,
  processProvider,
  shell,
  postgresProvider,
  routerProvider,
  filesProvider,
  sqliteProvider,
  resticProvider,
  pgbackrestProvider,
  haproxyProvider,
  dnsProvider,
];

export function findProvider(name: string): Provider | undefined {
  return providers.find((provider) => provider.name === name);
}

export function providerForKind(kind: string): Provider | undefined {
  return providers.find((provider) => provider.kinds.includes(kind));
}
