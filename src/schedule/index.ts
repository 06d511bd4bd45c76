/**
 * The scheduler every background job of drctl runs on (backups, prunes, restore verifications, drills):
 * cron or interval specs, missed occurrences run once, one process per occurrence. See scheduler.ts.
 */
export * from './scheduler.ts';
