import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { LeanRegistry } from '@vigil/catalog';

/**
 * Names the endpoint of a request: a route template such as '/users/:id'.
 * Return undefined to let vigil decide (framework route, else the normaliser).
 * Runs once per request, when the response finishes or the connection closes.
 */
export type HttpRouteResolver = (req: IncomingMessage, res: ServerResponse) => string | undefined;

/**
 * Names the role of the user behind a request ('admin', 'user', ...).
 * `framework` is the framework's own request object when there is one:
 * the Fastify request, or the Koa context.
 * Runs once per request, when the response finishes (authentication has run by then).
 */
export type HttpUserRoleResolver = (req: IncomingMessage, res: ServerResponse, framework: object | undefined) => string | undefined;

/**
 * Configuration of HttpServerInstrumentation. Each setting resolves as the code
 * option, then the environment variable named in its description, then the default.
 *
 * Documented label values:
 * - `status_code` "499": the connection closed before the response finished
 *   (the client went away, the socket was destroyed, or a server timeout hit),
 *   as nginx logs it. Such requests are counted and timed like any other.
 * - `method` "_OTHER": any method outside GET, HEAD, POST, PUT, DELETE, PATCH,
 *   OPTIONS, CONNECT, TRACE and QUERY (as OpenTelemetry's semantic conventions do).
 * - `endpoint` "unmatched": Express, Fastify or Koa handled the request but no
 *   route matched (404s, and responses sent by middleware before routing such as
 *   static files or an auth check in front of the router), so a URL scan adds one
 *   series at most. Plain `node:http` servers have no routes: their paths go through
 *   the normaliser, and the registry's cardinality limit backs it up.
 * - `user_role` "anonymous": no user on the request; "user": a user without a
 *   usable role (as the seed's middleware does).
 */
export interface HttpServerInstrumentationConfig extends InstrumentationConfig {
  /**
   * Request paths that are not counted. '/metrics' matches that path with any
   * query string; '/internal/*' matches everything under '/internal/'.
   * Environment: `VIGIL_HTTP_IGNORE_PATHS` (comma-separated).
   * @default ['/metrics']
   */
  ignorePaths?: string[];

  /**
   * Path prefixes under which every endpoint collapses to the prefix plus one
   * segment, the seed's `/api/v1/<service>` rule: with '/api/v1', both
   * '/api/v1/users/:id' and the path '/api/v1/users/42/posts' become '/api/v1/users'.
   * (The seed's middleware reported the bare 'users'; vigil keeps the prefix so
   * the value stays a path and two rules cannot collide.)
   * Applies to framework route templates and to normalised paths alike.
   * Environment: `VIGIL_HTTP_ENDPOINT_PREFIX_RULES` (comma-separated).
   * @default []
   */
  endpointPrefixRules?: string[];

  /**
   * Path segments the normaliser keeps for servers without a framework;
   * a longer path ends in '/*'.
   * Environment: `VIGIL_HTTP_MAX_PATH_SEGMENTS`.
   * @default 8
   */
  maxPathSegments?: number;

  /**
   * Longest path segment the normaliser keeps as written; a longer one becomes ':id'.
   * Environment: `VIGIL_HTTP_MAX_PATH_SEGMENT_LENGTH`.
   * @default 64
   */
  maxPathSegmentLength?: number;

  /**
   * Names the endpoint before vigil looks at the framework route or the path.
   * undefined lets vigil decide; any other non-string or empty result, or a
   * throw, is logged once and ignored (a returned promise is not awaited); a
   * longer result is cut to 128 characters, and control characters and line
   * separators become spaces.
   * @default undefined (framework route template, else 'unmatched' under a framework, else the normalised path)
   */
  routeResolver?: HttpRouteResolver;

  /**
   * Names the `user_role` label. undefined means "no user" ('anonymous');
   * any other result that is not a non-empty string, or a throw, is logged once
   * and counted as 'anonymous'; longer results are cut to 32 characters, and
   * control characters and line separators become spaces.
   * @default `req.user.role` (Express/Passport), the Fastify `request.user.role`
   *   or the Koa `ctx.state.user.role` when it is a string of 1 to 32 characters;
   *   'user' when there is a user without such a role; else 'anonymous'
   */
  userRoleResolver?: HttpUserRoleResolver;

  /**
   * More module names under which Express 4 or 5 is installed, for npm aliases
   * such as `"express4": "npm:express@4"` (require-in-the-middle and
   * import-in-the-middle hook modules by name). 'express' is always hooked.
   * Read once, when the instrumentation is constructed.
   * Environment: `VIGIL_HTTP_EXPRESS_MODULES` (comma-separated).
   * @default []
   */
  expressModules?: string[];

  /**
   * The lean registry the three HTTP metrics are recorded in.
   * @default the process-wide registry, `leanRegistry()` from @vigil/catalog
   */
  registry?: LeanRegistry;
}
