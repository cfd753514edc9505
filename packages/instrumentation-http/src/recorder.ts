// The per-request path: two diagnostics_channel subscribers and a socket
// 'close' listener record the three HTTP metrics into lean accumulators.
//
// Per request it allocates nothing of its own once the label set is known:
// the request state comes from a pool, label values are strings from fixed
// tables or route templates computed once, and RequestSeries finds the series
// (request-series.ts). Node itself allocates the channel messages (only while
// someone subscribes).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { types } from 'node:util';
import { safeExecuteInTheMiddle } from '@opentelemetry/instrumentation';
import {
  httpConcurrentConnections,
  httpRequestDurationSeconds,
  httpRequestsTotal,
  logOnce,
  nameValue,
  truncate,
  type LeanRegistry,
  type ValueSeries,
} from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import { koaRoute } from './koa';
import { FASTIFY_INIT_CHANNEL, onFastifyInit } from './fastify';
import {
  Framework,
  INTERNAL_SERVER,
  kConn,
  kFastifyServer,
  kServerKind,
  boundEndpoint,
  RequestState,
  ServerKind,
  type IncomingMessage,
  type RequestSink,
  type Server,
  type ServerResponse,
  type Socket,
} from './internal-types';
import { ABORTED_CODE, ANONYMOUS_ROLE, countedStatus, methodIndex, UNMATCHED_ENDPOINT, USER_ROLE } from './normalise';
import { RequestSeries } from './request-series';
import type { Settings } from './settings';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version';

export const REQUEST_START_CHANNEL = 'http.server.request.start';
export const RESPONSE_FINISH_CHANNEL = 'http.server.response.finish';

const MAX_ROLE_LENGTH = 32;
const POOL_MAX = 1024;

interface ServerMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: Server;
}

type Marked<T> = T & { [k: symbol]: unknown };

/** Process-wide: only one recorder counts requests, or every request would count twice. */
const ACTIVE = Symbol.for('vigil.http.active-recorder');
const globals = globalThis as { [ACTIVE]?: HttpRecorder };

function serverKind(server: Server | undefined): ServerKind {
  if (server == null) return ServerKind.Plain;
  const s = server as Marked<Server>;
  let kind = s[kServerKind] as ServerKind | undefined;
  if (kind === undefined) {
    kind = s[INTERNAL_SERVER] === true ? ServerKind.Ignored : s[kFastifyServer] === true ? ServerKind.Fastify : ServerKind.Plain;
    // Fastify marks its server when the app is created, before it listens; the
    // kind is fixed at the first request.
    s[kServerKind] = kind;
  }
  return kind;
}

/** The socket 'close' listener (one per connection): whatever is still in flight was aborted. */
function onSocketClose(this: Socket): void {
  const sock = this as Marked<Socket>;
  let st = sock[kConn] as RequestState | null | undefined;
  sock[kConn] = null;
  while (st != null) {
    const next = st.next;
    st.next = null;
    st.sink?.aborted(st);
    st = next;
  }
}

/**
 * Control characters and line separators: legal in a label value once escaped, but they break the lines of
 * whatever reads the value later (logs, legends, parsers that split on \r). A hook's result with one is cleaned.
 */
const LINE_BREAKING = /[\u0000-\u001f\u007f\u2028\u2029]/;

/** A hook's (already cut) string without line-breaking characters; '' when nothing else is left. */
function cleanHookResult(s: string): string {
  return LINE_BREAKING.test(s) ? nameValue(s, '', s.length) : s;
}

/**
 * What a user hook threw, for one log line: the message (or the value), at most 200 characters, on one line.
 * Never throws, whatever was thrown (a null-prototype object, a message getter that throws, a Symbol).
 */
function errorText(err: unknown): string {
  let text: string;
  try {
    const message = err instanceof Error ? (err as { message: unknown }).message : err;
    text = typeof message === 'string' ? message : String(message);
  } catch {
    text = `an unprintable ${typeof err}`;
  }
  return truncate(text, 200).replace(new RegExp(LINE_BREAKING.source, 'g'), ' ');
}

/**
 * What a user hook returned, for a log line: its type ("a number", "a Promise", "null"). A promise is not used,
 * so its rejection is handled here: left alone it would be an unhandled rejection, which ends the process.
 */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return 'an empty string';
  if (types.isPromise(v)) {
    v.then(undefined, () => {});
    return 'a Promise (resolvers run synchronously, when the response ends)';
  }
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export class HttpRecorder implements RequestSink {
  private settings: Settings;
  private readonly series: RequestSeries;
  private readonly inflight: ValueSeries;
  private readonly pool: RequestState[] = [];
  /** Requests this recorder has in flight. */
  private live = 0;
  private startOn = false;
  private finishOn = false;
  private fastifyOn = false;
  // User hooks run through safeExecuteInTheMiddle with closures made once here;
  // the request they look at is passed through these fields.
  private hookReq: IncomingMessage | null = null;
  private hookRes: ServerResponse | null = null;
  private hookHolder: object | undefined = undefined;
  private readonly runRoute = () => this.settings.routeResolver!(this.hookReq!, this.hookRes!);
  private readonly runRole = () => this.settings.userRoleResolver!(this.hookReq!, this.hookRes!, this.hookHolder);
  private readonly routeFailed = (err: Error | undefined) => {
    if (err) logOnce('http:routeResolver:threw', 'warn', `routeResolver threw (${errorText(err)}); using the framework route or the normalised path instead`);
  };
  private readonly roleFailed = (err: Error | undefined) => {
    if (err) logOnce('http:userRoleResolver:threw', 'warn', `userRoleResolver threw (${errorText(err)}); counting the request as "${ANONYMOUS_ROLE}"`);
  };

  constructor(settings: Settings, registry: LeanRegistry) {
    this.settings = settings;
    const scope = { name: PACKAGE_NAME, version: PACKAGE_VERSION };
    this.series = new RequestSeries(registry.values(httpRequestsTotal, scope), registry.histogram(httpRequestDurationSeconds, scope));
    this.inflight = registry.values(httpConcurrentConnections, scope).get([]);
  }

  /** Replaces the settings (setConfig); requests in flight finish under the new ones. */
  configure(settings: Settings): void {
    this.settings = settings;
  }

  /** Requests this recorder has in flight now. */
  get inFlight(): number {
    return this.live;
  }

  /** Starts counting. Returns false when another recorder in this process already counts. */
  subscribe(): boolean {
    const other = globals[ACTIVE];
    if (other !== undefined && other !== this) {
      logOnce(
        'http:second-instrumentation',
        'warn',
        'a second HttpServerInstrumentation was enabled while another one is active; it stays idle so that requests are not counted twice',
      );
      return false;
    }
    globals[ACTIVE] = this;
    if (!this.finishOn) {
      subscribe(RESPONSE_FINISH_CHANNEL, this.onFinish);
      this.finishOn = true;
    }
    if (!this.startOn) {
      subscribe(REQUEST_START_CHANNEL, this.onStart);
      this.startOn = true;
    }
    if (!this.fastifyOn) {
      subscribe(FASTIFY_INIT_CHANNEL, onFastifyInit);
      this.fastifyOn = true;
    }
    return true;
  }

  /** Stops counting new requests; those in flight are still recorded when they end. */
  unsubscribe(): void {
    if (this.startOn) {
      unsubscribe(REQUEST_START_CHANNEL, this.onStart);
      this.startOn = false;
    }
    if (this.fastifyOn) {
      unsubscribe(FASTIFY_INIT_CHANNEL, onFastifyInit);
      this.fastifyOn = false;
    }
    if (globals[ACTIVE] === this) delete globals[ACTIVE];
    this.maybeStopFinish();
  }

  private maybeStopFinish(): void {
    if (this.finishOn && !this.startOn && this.live === 0) {
      unsubscribe(RESPONSE_FINISH_CHANNEL, this.onFinish);
      this.finishOn = false;
    }
  }

  private readonly onStart = (message: unknown): void => {
    // The clock is read before the try block: inside one it is twice as costly (catalog's clock.ts).
    const start = nowMs();
    try {
      const { request: req, socket, server } = message as ServerMessage;
      // Without a socket a request could be neither found at its finish nor seen aborted.
      if (socket == null) return;
      const kind = serverKind(server);
      if (kind === ServerKind.Ignored) return;
      const url = req.url;
      if (this.settings.ignore.matches(url)) return;
      const st = this.pool.pop() ?? new RequestState();
      st.req = req;
      st.url = url;
      st.res = (message as ServerMessage).response;
      st.sink = this;
      st.start = start;
      st.method = methodIndex(req.method);
      st.framework = kind === ServerKind.Fastify ? Framework.Fastify : Framework.None;
      const sock = socket as Marked<Socket>;
      const head = sock[kConn] as RequestState | null | undefined;
      if (head === undefined) {
        // first request on this connection: one listener for its lifetime
        sock[kConn] = st;
        socket.on('close', onSocketClose);
      } else if (head === null) {
        sock[kConn] = st;
      } else {
        let tail = head;
        while (tail.next !== null) tail = tail.next;
        tail.next = st;
      }
      this.live++;
      this.inflight.value++;
    } catch (err) {
      logOnce('http:start', 'warn', `HTTP instrumentation failed at a request start (${errorText(err)}); that request is not counted`);
    }
  };

  private readonly onFinish = (message: unknown): void => {
    const end = nowMs();
    try {
      const { request: req, response: res, socket } = message as ServerMessage;
      if (socket == null) return;
      // find the request among those in flight on its socket (the first one,
      // unless requests are pipelined) and unlink it
      const sock = socket as Marked<Socket>;
      let st = sock[kConn] as RequestState | null | undefined;
      let prev: RequestState | null = null;
      while (st != null && st.req !== req) {
        prev = st;
        st = st.next;
      }
      if (st == null || st.sink !== this) return;
      if (prev === null) sock[kConn] = st.next;
      else prev.next = st.next;
      st.next = null;
      this.record(st, countedStatus(res.statusCode), end);
    } catch (err) {
      logOnce('http:finish', 'warn', `HTTP instrumentation failed at a response finish (${errorText(err)})`);
    }
  };

  aborted(st: RequestState): void {
    const end = nowMs();
    try {
      if (st.sink !== this || st.req === null) return;
      this.record(st, ABORTED_CODE, end);
    } catch (err) {
      logOnce('http:abort', 'warn', `HTTP instrumentation failed recording an aborted request (${errorText(err)})`);
    }
  }

  /** Counts a finished request (`status`: countedStatus()); `end` is nowMs() at its end, read before the caller's try block. */
  private record(st: RequestState, status: number, end: number): void {
    const seconds = (end - st.start) / 1000;
    this.live--;
    this.inflight.value--;
    try {
      this.series.record(st.method, this.endpointOf(st), status, this.roleOf(st), seconds);
    } finally {
      this.release(st);
    }
  }

  private release(st: RequestState): void {
    st.reset();
    if (this.pool.length < POOL_MAX) this.pool.push(st);
    if (!this.startOn) this.maybeStopFinish();
  }

  private endpointOf(st: RequestState): string {
    const s = this.settings;
    if (s.routeResolver !== undefined) {
      const custom = this.customRoute(st);
      if (custom !== undefined) return s.prefixer.active ? s.prefixer.apply(custom) : custom;
    }
    let route = st.route;
    if (route === undefined && st.framework === Framework.Koa) route = koaRoute(st.holder);
    if (route !== undefined) return s.prefixer.active ? s.prefixer.apply(route) : route;
    if (st.framework !== Framework.None) return UNMATCHED_ENDPOINT;
    return s.normaliser.normalise(st.url);
  }

  private customRoute(st: RequestState): string | undefined {
    this.hookReq = st.req;
    this.hookRes = st.res;
    const r: unknown = safeExecuteInTheMiddle(this.runRoute, this.routeFailed, true);
    this.hookReq = this.hookRes = null;
    if (typeof r === 'string') {
      const route = cleanHookResult(boundEndpoint(r));
      if (route !== '') return route;
    }
    // undefined means "let vigil decide"; anything else that is not a route is a bug worth one line
    if (r !== undefined) {
      logOnce('http:routeResolver:junk', 'warn', `routeResolver returned ${kindOf(r)}, not a route; using the framework route or the normalised path for such requests`);
    }
    return undefined;
  }

  private roleOf(st: RequestState): string {
    if (this.settings.userRoleResolver !== undefined) return this.customRole(st);
    let user = (st.req as { user?: unknown }).user;
    if (user == null && st.holder !== undefined) {
      user =
        st.framework === Framework.Koa
          ? (st.holder as { state?: { user?: unknown } }).state?.user
          : (st.holder as { user?: unknown }).user;
    }
    if (user == null || user === false) return ANONYMOUS_ROLE;
    if (typeof user !== 'object') return USER_ROLE;
    const role = (user as { role?: unknown }).role;
    if (typeof role === 'string' && role.length > 0 && role.length <= MAX_ROLE_LENGTH) return role;
    return USER_ROLE;
  }

  private customRole(st: RequestState): string {
    this.hookReq = st.req;
    this.hookRes = st.res;
    this.hookHolder = st.holder;
    const r: unknown = safeExecuteInTheMiddle(this.runRole, this.roleFailed, true);
    this.hookReq = this.hookRes = null;
    this.hookHolder = undefined;
    if (typeof r === 'string') {
      const role = cleanHookResult(truncate(r, MAX_ROLE_LENGTH));
      if (role !== '') return role;
    }
    // undefined means "no user"; anything else that is not a role name is a bug worth one line
    if (r !== undefined) {
      logOnce('http:userRoleResolver:junk', 'warn', `userRoleResolver returned ${kindOf(r)}, not a role name; counting such requests as "${ANONYMOUS_ROLE}"`);
    }
    return ANONYMOUS_ROLE;
  }
}
