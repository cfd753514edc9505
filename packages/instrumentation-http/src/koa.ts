// Koa: Application#createContext is wrapped so that the request state learns
// the Koa context. @koa/router (and koa-router) write the matched route's
// template to `ctx._matchedRoute`, prefixes of nested routers included; the
// response finish reads it there, so the router itself needs no patch.
import { InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { boundEndpoint, Framework, stateOf } from './internal-types';
import type { Shim } from './shim';

export const KOA_VERSIONS = ['>=2.0.0 <4'];

type CreateContext = (this: unknown, req: unknown, res: unknown) => unknown;

interface KoaApplicationLike {
  prototype: { createContext: CreateContext };
}

function applicationOf(exports: unknown): KoaApplicationLike | undefined {
  const candidates = [exports, (exports as { default?: unknown } | null)?.default];
  for (const c of candidates) {
    if (typeof c === 'function' && typeof (c as KoaApplicationLike).prototype?.createContext === 'function') return c as KoaApplicationLike;
  }
  return undefined;
}

function wrapCreateContext(original: CreateContext): CreateContext {
  return function createContext(this: unknown, req: unknown, res: unknown): unknown {
    const ctx = original.call(this, req, res);
    try {
      const st = stateOf(req);
      if (st !== undefined && ctx != null && typeof ctx === 'object') {
        st.framework = Framework.Koa;
        st.holder = ctx;
      }
    } catch {
      // never in the way of the request
    }
    return ctx;
  };
}

/** The route template @koa/router left on a Koa context; undefined when no route matched. */
export function koaRoute(ctx: object | undefined): string | undefined {
  if (ctx === undefined) return undefined;
  const r = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof r === 'string') return r.length > 0 ? boundEndpoint(r) : undefined;
  if (r instanceof RegExp) return boundEndpoint(String(r));
  return undefined;
}

/** The module definition that patches koa (also for `import` through import-in-the-middle). */
export function koaDefinition(shim: Shim, name = 'koa', versions: string[] = KOA_VERSIONS): InstrumentationNodeModuleDefinition {
  return new InstrumentationNodeModuleDefinition(
    name,
    versions,
    (exports: unknown) => {
      const app = applicationOf(exports);
      if (app) shim.wrap(app.prototype, 'createContext', wrapCreateContext);
      return exports;
    },
    (exports: unknown) => {
      const app = applicationOf(exports);
      if (app) shim.unwrap(app.prototype, 'createContext');
    },
  );
}
