/**
 * HTTP and TCP probing shared by the http provider, the process supervisor (readiness of a started
 * process), readiness and the site-loss monitor. Only re-exports.
 */
export { BODY_EXCERPT_LIMIT, compareJson, jsonPath, probeHttp } from './http.ts';
export type { HttpProbeOptions, HttpProbeResult } from './http.ts';
export { connectedToItself, parseHostPort, probeTcp } from './tcp.ts';
export type { TcpProbeResult } from './tcp.ts';
