/**
 * PostgreSQL on this machine, shared by the postgres and pgbackrest providers, drills, verification,
 * tests and benchmarks: finding and running the server programs, connecting, running one server, and
 * throw-away clusters with streaming replication.
 */
export * from './binaries.ts';
export * from './client.ts';
export * from './server.ts';
export * from './cluster.ts';
export * from './clone.ts';
