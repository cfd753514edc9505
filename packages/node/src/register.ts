// The preload entry:
//   node --require @vigil/node/register app.js     (CommonJS)
//   node --import  @vigil/node/register app.mjs    (ESM)
// It registers the ESM loader hook for the modules vigil instruments, then starts vigil.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { log } from '@vigil/catalog';
import { start } from './start';

// Only these modules are wrapped for ESM, so every other import is left alone.
const ESM_INSTRUMENTED = ['express', 'router', 'fastify', 'koa', '@koa/router', 'koa-router', 'pg', 'pg-pool', 'ioredis', '@redis/client', 'redis'];

// Worker threads inherit --require / --import, and so does the ESM loader's own thread:
// vigil runs once per process, in the main thread.
if (isMainThread) {
  try {
    if (typeof register === 'function' && process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true') {
      register('@opentelemetry/instrumentation/hook.mjs', pathToFileURL(__filename), { data: { include: ESM_INSTRUMENTED } });
    }
  } catch (err) {
    log('warn', `ESM instrumentation is off (${(err as Error).message}); CommonJS instrumentation still works`);
  }
  start();
}
