export { freePort, request, scrape, waitFor } from './net';
export type { HttpResponse, RequestOptions } from './net';
export { parseMetrics, sampleValue, samplesOf } from './exposition';
export type { Sample } from './exposition';
export { startApp } from './app';
export type { AppOptions, RunningApp } from './app';
export { pgConfig, redisUrl, requireServices } from './services';
export { inProcessMetrics } from './in-process';
export type { InProcessMetrics } from './in-process';
