/**
 * What the postgres provider does to real servers, independent of plans: replication status, fencing,
 * promotion, rebuilding a former primary as a standby, base backups with WAL archiving, point-in-time
 * restore and the recovery of a delayed standby. The provider's actions resolve a plan placement and call
 * these; the demo and drills may call them directly with a URL.
 */
export * from './target.ts';
export * from './status.ts';
export * from './fence.ts';
export * from './promote.ts';
export * from './rebuild.ts';
export * from './backup.ts';
export * from './restore.ts';
export * from './delayed.ts';
export { redactUrl } from '../../../pg/client.ts';
