// The preload entry:
//   node --require @vigil/node/register app.js     (CommonJS)
//   node --import  @vigil/node/register app.mjs    (ESM)
// For ESM apps it registers the ESM loader hooks for the modules vigil instruments; then it
// starts vigil. Nothing but node: builtins loads before the main-thread test below: when the
// hooks run in a loader thread of their own, that thread runs this file too.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { appIsEsm } from './esm';

// Only these modules are wrapped for ESM, so every other import is left alone.
const ESM_INSTRUMENTED = ['express', 'router', 'fastify', 'koa', '@koa/router', 'koa-router', 'pg', 'pg-pool', 'ioredis', '@redis/client', 'redis'];

const ESM_HOOKS = ['in-thread', 'loader-thread'] as const;
type EsmHooks = (typeof ESM_HOOKS)[number];

interface SyncHooks {
  supportsSyncHooks(): boolean;
  register(options: { include: string[] }): void;
}

/**
 * import-in-the-middle's hooks, in the app's own thread (module.registerHooks) where this Node
 * runs them correctly (22.22.3 and later); else in a loader thread (module.register), which
 * adds ~14 MB of RSS and ~30 ms of start-up (bench/notes.md, item 28).
 */
function registerEsmHooks(where: EsmHooks): void {
  if (where === 'in-thread' && registeredInThread()) return;
  register('import-in-the-middle/hook.mjs', pathToFileURL(__filename), { data: { include: ESM_INSTRUMENTED } });
}

/** Whether the in-thread hooks could be registered: not on older Node, nor with --no-experimental-require-module. */
function registeredInThread(): boolean {
  try {
    const { supportsSyncHooks } = require('import-in-the-middle/supports-sync-hooks.mjs') as Pick<SyncHooks, 'supportsSyncHooks'>;
    if (!supportsSyncHooks()) return false;
    (require('import-in-the-middle/register-hooks.mjs') as SyncHooks).register({ include: ESM_INSTRUMENTED });
    return true;
  } catch {
    return false;
  }
}

if (isMainThread) {
  const { choiceSetting, log } = require('@vigil/catalog') as typeof import('@vigil/catalog');
  try {
    // Loaded by --require, this module's parent is Node's preloader; by --import, it has none.
    const nodeOptions = (process.env.NODE_OPTIONS ?? '').split(/\s+/);
    const esm = appIsEsm(module.parent === undefined, process.argv[1], [...process.execArgv, ...nodeOptions]);
    if (esm && process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() !== 'true') {
      registerEsmHooks(choiceSetting<EsmHooks>('VIGIL_ESM_HOOKS', undefined, ESM_HOOKS, 'in-thread'));
    }
  } catch (err) {
    log('warn', `ESM instrumentation is off (${(err as Error).message}); CommonJS instrumentation still works`);
  }
  (require('./start') as typeof import('./start')).start();
}
