// Per-request state and the markers shared between the recorder and the
// framework patches. Nothing here is exported from the package.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * On a socket: the first RequestState in flight on it (null: tracked, none in
 * flight); pipelined requests follow through `next`. The state of a request is
 * found through its socket rather than a property on the request: adding a
 * property to each IncomingMessage would allocate, a socket lives for the
 * whole keep-alive connection.
 */
export const kConn = Symbol('vigil.http.conn');
/** On an http.Server: what kind of server it is, decided at its first request. */
export const kServerKind = Symbol('vigil.http.server-kind');
/** Set by fastify's initialization hook on the server it created. */
export const kFastifyServer = Symbol('vigil.http.fastify-server');
/**
 * Servers whose requests are never counted: vigil's own /metrics server sets it
 * (@vigil/node). Registered so that separate copies of the packages agree.
 */
export const INTERNAL_SERVER = Symbol.for('vigil.internal-server');

/** Which framework handled a request; decides what a missing route template means. */
export const enum Framework {
  None = 0,
  Express = 1,
  Fastify = 2,
  Koa = 3,
}

export const enum ServerKind {
  Plain = 0,
  Ignored = 1,
  Fastify = 2,
}

/** Something that records the end of requests (the HttpRecorder). */
export interface RequestSink {
  /** The connection closed before the response finished. */
  aborted(st: RequestState): void;
}

/**
 * One request in flight. Pooled: a request takes one at start and gives it back
 * when it is recorded, so the per-request path allocates nothing here.
 */
export class RequestState {
  req: IncomingMessage | null = null;
  res: ServerResponse | null = null;
  /** req.url at the start (frameworks may rewrite it while routing). */
  url: string | undefined = undefined;
  /** The next request in flight on the same socket (HTTP pipelining). */
  next: RequestState | null = null;
  sink: RequestSink | null = null;
  /** nowMs() at the start. */
  start = 0;
  /** The method, as its index in METHOD_LABELS (normalise.ts). */
  method = 0;
  framework: Framework = Framework.None;
  /** Route template found by a framework patch. */
  route: string | undefined = undefined;
  /** Express: the mount point the request is in (see express.ts). */
  mount: MountNode | null = null;
  /** The framework's own request object: Fastify request, Koa context. */
  holder: object | undefined = undefined;

  reset(): void {
    this.req = this.res = null;
    this.url = undefined;
    this.next = null;
    this.sink = null;
    this.start = 0;
    this.method = 0;
    this.framework = Framework.None;
    this.route = undefined;
    this.mount = null;
    this.holder = undefined;
  }
}

/** The state of req if it is in flight (states are pooled: it must still belong to req). */
export function stateOf(req: unknown): RequestState | undefined {
  if (req === null || typeof req !== 'object') return undefined;
  const socket = (req as { socket?: unknown }).socket;
  if (socket == null || typeof socket !== 'object') return undefined;
  let st = (socket as { [kConn]?: RequestState | null })[kConn];
  while (st != null) {
    if (st.req === req) return st;
    st = st.next;
  }
  return undefined;
}

/**
 * Express mount points: a tree of (router, path template prefix), one node per
 * place a router is mounted, created once and reused by every request.
 */
export class MountNode {
  private children: WeakMap<object, MountNode> | undefined;
  private routes: WeakMap<object, string> | undefined;

  constructor(
    readonly parent: MountNode | null,
    /** The router (or middleware function) whose layers run under this node. */
    readonly router: unknown,
    /** Full template of this mount point ('' at the root, no trailing slash). */
    readonly prefix: string,
    /** False below a mount whose path vigil could not learn: routes there have no template. */
    readonly known = true,
  ) {}

  /**
   * The node for entering `key` (a layer or a router) mounted at `pattern`
   * (UNKNOWN_PATTERN when not known) below this node.
   */
  child(key: object, router: unknown, pattern: string): MountNode {
    let c = this.children?.get(key);
    if (c === undefined) {
      const known = this.known && pattern !== UNKNOWN_PATTERN;
      c = new MountNode(this, router, known ? joinTemplate(this.prefix, pattern, false) : '', known);
      (this.children ??= new WeakMap()).set(key, c);
    }
    return c;
  }

  /** The full template of a route (keyed by the route object, whose path is `path`) under this node. */
  routeTemplate(route: object, path: unknown): string | undefined {
    if (!this.known) return undefined;
    let t = this.routes?.get(route);
    if (t === undefined) {
      t = joinTemplate(this.prefix, patternText(path), true);
      (this.routes ??= new WeakMap()).set(route, t);
    }
    return t;
  }
}

/** Mount path of a layer registered before vigil patched its router, when it cannot be recovered. */
export const UNKNOWN_PATTERN = '\u0000unknown';

/** Longest endpoint label value; longer templates are cut. */
export const MAX_ENDPOINT_LENGTH = 128;

/** Cuts a label value to MAX_ENDPOINT_LENGTH characters. */
export function boundEndpoint(s: string): string {
  return s.length > MAX_ENDPOINT_LENGTH ? s.slice(0, MAX_ENDPOINT_LENGTH) : s;
}

/**
 * Joins a mount prefix and a path pattern the way the framework matches them:
 * '' + '/users' -> '/users', '/api' + '/' -> '/api', '' + '/' -> '/' (routes only).
 */
export function joinTemplate(prefix: string, pattern: string, isRoute: boolean): string {
  let p = pattern;
  if (p === '/' || p === '') p = '';
  else if (p.charCodeAt(0) !== 47 /* / */) p = '/' + p;
  let head = prefix;
  if (head.endsWith('/')) head = head.slice(0, -1);
  const joined = head + p;
  if (joined === '') return isRoute ? '/' : '';
  return boundEndpoint(joined);
}

/** A framework path argument (string, RegExp or array of them) as template text. */
export function patternText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof RegExp) return String(path);
  if (Array.isArray(path)) return path.map(patternText).join(',');
  return '';
}

export type { IncomingMessage, Server, ServerResponse, Socket };
