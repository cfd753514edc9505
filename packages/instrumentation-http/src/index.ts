export { HttpServerInstrumentation } from './instrumentation';
export type { HttpRouteResolver, HttpServerInstrumentationConfig, HttpUserRoleResolver } from './types';
export { ABORTED_STATUS, ANONYMOUS_ROLE, OTHER_METHOD, UNMATCHED_ENDPOINT, USER_ROLE, PathNormaliser, methodLabel, statusLabel } from './normalise';
export type { NormaliserOptions } from './normalise';
export { DEFAULT_IGNORE_PATHS, DEFAULT_MAX_PATH_SEGMENTS, DEFAULT_MAX_PATH_SEGMENT_LENGTH } from './settings';
export { expressDefinition, routerDefinition } from './express';
export { koaDefinition } from './koa';
export type { Shim } from './shim';
export { INTERNAL_SERVER } from './internal-types';
