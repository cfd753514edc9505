// The preload entry:
//   node --require @vigil/node/register app.js     (CommonJS)
//   node --import  @vigil/node/register app.mjs    (ESM)
// For ESM apps it registers the ESM loader hook for the modules vigil instruments; then it
// starts vigil. Nothing but node: builtins loads before the main-thread test below: the ESM
// loader's own thread runs this file too, and must stay small.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { appIsEsm } from './esm';

// Only these modules are wrapped for ESM, so every other import is left alone.
const ESM_INSTRUMENTED = ['express', 'router', 'fastify', 'koa', '@koa/router', 'koa-router', 'pg', 'pg-pool', 'ioredis', '@redis/client', 'redis'];

if (isMainThread) {
  const { log } = require('@vigil/catalog') as typeof import('@vigil/catalog');
  try {
    // Loaded by --require, this module's parent is Node's preloader; by --import, it has none.
    const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/);
    const esm = appIsEsm(module.parent === undefined, process.argv[1], [...process.execArgv, ...nodeOptions]);
    if (esm && typeof register === 'function' && process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true') {
      register('@opentelemetry/instrumentation/hook.mjs', pathToFileURL(__filename), { data: { include: ESM_INSTRUMENTED } });
    }
  } catch (err) {
    log('warn', `ESM instrumentation is off (${(err as Error).message}); CommonJS instrumentation still works`);
  }
  (require('./start') as typeof import('./start')).start();
}
