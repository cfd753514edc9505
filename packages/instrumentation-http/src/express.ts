// Express 4 (its router in express/lib/router) and Express 5 (the `router`
// package): finding the full route template, mount paths of nested routers
// included, without allocating per request.
//
// At registration (Router#use, Router#route) every new layer is tagged with the
// router that owns it and, for use(), the path it was mounted at. Per request,
// the Layer's handle method (reached through the first tagged layer's
// prototype) moves the request through a tree of mount points built once:
// entering a mounted router steps to a child node, and the next layer of an
// outer router walks back up to that router's node, which is how leaving a
// router is noticed without wrapping `next` in a closure. When a route's layer
// runs, the template is the node's prefix joined with the route's path,
// computed once per (mount point, route) and cached.
//
// Express 4 exports its router prototype as `express.Router`; Express 5
// exports the `router` package's Router, whose methods live on Router.prototype.
// Both are patched through the main module, so an `express4`-style alias or an
// ESM namespace reaches the same objects.
import { InstrumentationNodeModuleDefinition, isWrapped } from '@opentelemetry/instrumentation';
import { Framework, MountNode, patternText, stateOf, UNKNOWN_PATTERN, type RequestState } from './internal-types';
import type { Shim } from './shim';

export const EXPRESS_VERSIONS = ['>=4.0.0 <6'];
export const ROUTER_VERSIONS = ['>=2.0.0 <3'];

const kOwner = Symbol('vigil.http.express-owner');
const kPattern = Symbol('vigil.http.express-pattern');
const kRoot = Symbol('vigil.http.express-root');
/** On a router: how many of its layers have been looked at by tagExisting. */
const kSeen = Symbol('vigil.http.express-seen');

interface LayerLike {
  route?: { path?: unknown } | null;
  handle?: unknown;
  /** router >= 2.3 keeps the path it was created with */
  rawPath?: unknown;
  /** router 2.x: mounted at '/' */
  slash?: boolean;
  /** Express 4: the layer's path regexp; fast_slash when mounted at '/' */
  regexp?: { fast_slash?: boolean };
  [kOwner]?: object;
  [kPattern]?: string;
}

interface RouterLike {
  stack?: LayerLike[];
  [kRoot]?: MountNode;
  [kSeen]?: number;
}

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

interface RouterProto {
  use: AnyFn;
  route: AnyFn;
  handle: AnyFn;
}

interface LayerProto {
  handle_request?: AnyFn;
  handleRequest?: AnyFn;
}

let shim: Shim | undefined;
const layerProtos = new Set<LayerProto>();

/** The object holding use/route/handle: Express 4's router prototype or Router.prototype of `router` 2. */
function routerProtoOf(R: unknown): RouterProto | undefined {
  if (typeof R !== 'function') return undefined;
  const p = (R as { prototype?: Partial<RouterProto> }).prototype;
  if (p && typeof p.handle === 'function' && typeof p.use === 'function' && typeof p.route === 'function') return p as RouterProto;
  const r = R as unknown as Partial<RouterProto>;
  if (typeof r.handle === 'function' && typeof r.use === 'function' && typeof r.route === 'function') return r as RouterProto;
  return undefined;
}

/** The path argument of Router#use, resolved the way the router does. */
function usePath(first: unknown): unknown {
  if (typeof first === 'function') return '/';
  let arg = first;
  while (Array.isArray(arg) && arg.length !== 0) arg = arg[0];
  return typeof arg === 'function' ? '/' : first;
}

function tagLayers(router: RouterLike, from: number, pattern: string | undefined): void {
  const stack = router.stack;
  if (!Array.isArray(stack)) return;
  for (let i = from; i < stack.length; i++) {
    const layer = stack[i];
    if (layer == null || typeof layer !== 'object' || layer[kOwner] !== undefined) continue;
    layer[kOwner] = router;
    if (pattern !== undefined) layer[kPattern] = pattern;
    patchLayerProto(Object.getPrototypeOf(layer) as LayerProto | null);
  }
}

function wrapUse(original: AnyFn): AnyFn {
  return function use(this: unknown, ...args: unknown[]): unknown {
    const router = this as RouterLike;
    const before = Array.isArray(router?.stack) ? router.stack.length : 0;
    const result = original.apply(this, args);
    try {
      tagLayers(router, before, patternText(usePath(args[0])));
    } catch {
      // registration goes on untagged
    }
    return result;
  };
}

function wrapRoute(original: AnyFn): AnyFn {
  return function route(this: unknown, ...args: unknown[]): unknown {
    const router = this as RouterLike;
    const before = Array.isArray(router?.stack) ? router.stack.length : 0;
    const result = original.apply(this, args);
    try {
      tagLayers(router, before, undefined);
    } catch {
      // registration goes on untagged
    }
    return result;
  };
}

/** The mount path of a layer created before vigil patched its router, if the layer still tells it. */
function recoverPattern(layer: LayerLike): string {
  if ('rawPath' in layer) return patternText(layer.rawPath);
  if (layer.slash === true || layer.regexp?.fast_slash === true) return '/';
  return UNKNOWN_PATTERN;
}

/**
 * Tags the layers of a router that were registered before vigil patched it
 * (vigil enabled after the app was built). Routes and '/' mounts are
 * recovered; a mount at an unknown path makes the routes below it 'unmatched'
 * rather than reporting them without their prefix.
 */
function tagExisting(router: RouterLike, stack: LayerLike[]): void {
  for (let i = 0; i < stack.length; i++) {
    const layer = stack[i];
    if (layer == null || typeof layer !== 'object' || layer[kOwner] !== undefined) continue;
    layer[kOwner] = router;
    if (layer.route == null) layer[kPattern] = recoverPattern(layer);
    patchLayerProto(Object.getPrototypeOf(layer) as LayerProto | null);
  }
  router[kSeen] = stack.length;
}

function wrapHandle(original: AnyFn): AnyFn {
  return function handle(this: unknown, req: unknown, res: unknown, out: unknown): unknown {
    const st = stateOf(req);
    if (st !== undefined) {
      st.framework = Framework.Express;
      const router = this as RouterLike;
      const stack = router.stack;
      if (Array.isArray(stack) && router[kSeen] !== stack.length) {
        try {
          tagExisting(router, stack);
        } catch {
          // never in the way of the request
        }
      }
    }
    return original.call(this, req, res, out);
  };
}

function rootOf(router: object): MountNode {
  const r = router as RouterLike;
  return (r[kRoot] ??= new MountNode(null, router, ''));
}

/** A tagged layer starts handling the request: move through the mount tree. */
function enterLayer(st: RequestState, layer: LayerLike, owner: object): void {
  st.framework = Framework.Express;
  let node = st.mount;
  while (node !== null && node.router !== owner) node = node.parent;
  if (node === null) {
    // First layer of the request, or a router reached without a tagged mount
    // (a sub-app behind Express's mounted_app wrapper): it sits below the current node.
    node = st.mount === null ? rootOf(owner) : st.mount.child(owner, owner, '');
  }
  const route = layer.route;
  if (route != null && typeof route === 'object') {
    st.route = node.routeTemplate(route, route.path); // undefined below an unknown mount: 'unmatched'
    st.mount = node;
  } else {
    st.mount = node.child(layer, layer.handle, layer[kPattern] ?? '');
  }
}

function wrapLayerHandle(original: AnyFn): AnyFn {
  return function handleRequest(this: unknown, req: unknown, res: unknown, next: unknown): unknown {
    const layer = this as LayerLike;
    const owner = layer?.[kOwner];
    if (owner !== undefined) {
      const st = stateOf(req);
      if (st !== undefined) {
        try {
          enterLayer(st, layer, owner);
        } catch {
          // never in the way of the request
        }
      }
    }
    return original.call(this, req, res, next);
  };
}

function patchLayerProto(proto: LayerProto | null): void {
  if (proto == null || layerProtos.has(proto) || shim === undefined) return;
  layerProtos.add(proto);
  if (typeof proto.handle_request === 'function') shim.wrap(proto, 'handle_request', wrapLayerHandle as (o: AnyFn | undefined) => AnyFn);
  if (typeof proto.handleRequest === 'function') shim.wrap(proto, 'handleRequest', wrapLayerHandle as (o: AnyFn | undefined) => AnyFn);
}

// Express 5's Router is the `router` package's: both definitions reach the same prototype,
// so each method is wrapped and unwrapped once only.
function patchRouterProto(proto: RouterProto, s: Shim): void {
  shim = s;
  if (isWrapped(proto.use)) return;
  s.wrap(proto, 'use', wrapUse);
  s.wrap(proto, 'route', wrapRoute);
  s.wrap(proto, 'handle', wrapHandle);
}

function unpatchRouterProto(proto: RouterProto, s: Shim): void {
  if (!isWrapped(proto.use)) return;
  s.unwrap(proto, 'use');
  s.unwrap(proto, 'route');
  s.unwrap(proto, 'handle');
  for (const lp of layerProtos) {
    if (typeof lp.handle_request === 'function') s.unwrap(lp, 'handle_request');
    if (typeof lp.handleRequest === 'function') s.unwrap(lp, 'handleRequest');
  }
  layerProtos.clear();
}

function routerOfExpress(exports: unknown): RouterProto | undefined {
  const e = exports as { Router?: unknown; default?: { Router?: unknown } } | null;
  return routerProtoOf(e?.Router) ?? routerProtoOf(e?.default?.Router);
}

function routerOfRouter(exports: unknown): RouterProto | undefined {
  return routerProtoOf(exports) ?? routerProtoOf((exports as { default?: unknown } | null)?.default);
}

/** Patches Express 4 or 5 through its main module (`name` lets a test patch an npm alias). */
export function expressDefinition(shimArg: Shim, name = 'express', versions: string[] = EXPRESS_VERSIONS): InstrumentationNodeModuleDefinition {
  return new InstrumentationNodeModuleDefinition(
    name,
    versions,
    (exports: unknown) => {
      const proto = routerOfExpress(exports);
      if (proto) patchRouterProto(proto, shimArg);
      return exports;
    },
    (exports: unknown) => {
      const proto = routerOfExpress(exports);
      if (proto) unpatchRouterProto(proto, shimArg);
    },
  );
}

/** Patches the `router` package (Express 5's router, also used on its own). */
export function routerDefinition(shimArg: Shim): InstrumentationNodeModuleDefinition {
  return new InstrumentationNodeModuleDefinition(
    'router',
    ROUTER_VERSIONS,
    (exports: unknown) => {
      const proto = routerOfRouter(exports);
      if (proto) patchRouterProto(proto, shimArg);
      return exports;
    },
    (exports: unknown) => {
      const proto = routerOfRouter(exports);
      if (proto) unpatchRouterProto(proto, shimArg);
    },
  );
}
