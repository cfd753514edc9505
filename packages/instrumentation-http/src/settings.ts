// Resolves the configuration once: code option, then environment, then default.
import { listSetting, logOnce, numberSetting } from '@vigil/catalog';
import { PathMatcher, PathNormaliser, TemplatePrefixer } from './normalise';
import type { HttpRouteResolver, HttpServerInstrumentationConfig, HttpUserRoleResolver } from './types';

export const DEFAULT_IGNORE_PATHS: readonly string[] = ['/metrics'];
export const DEFAULT_MAX_PATH_SEGMENTS = 8;
export const DEFAULT_MAX_PATH_SEGMENT_LENGTH = 64;
/** Distinct normalised templates kept for allocation-free lookups (and endpoints RequestSeries remembers). */
export const NORMALISER_CACHE = 4096;

export interface Settings {
  readonly ignore: PathMatcher;
  readonly normaliser: PathNormaliser;
  readonly prefixer: TemplatePrefixer;
  readonly routeResolver: HttpRouteResolver | undefined;
  readonly userRoleResolver: HttpUserRoleResolver | undefined;
}

function paths(name: string, values: string[]): string[] {
  const ok: string[] = [];
  for (const v of values) {
    const p = String(v).trim();
    if (p.startsWith('/')) ok.push(p);
    else logOnce(`setting:${name}:${p.slice(0, 80)}`, 'warn', `${name}: "${p.slice(0, 80)}" is not a path starting with "/"; ignoring it`);
  }
  return ok;
}

function hook<T>(name: string, fn: unknown): T | undefined {
  if (fn === undefined || fn === null) return undefined;
  if (typeof fn === 'function') return fn as T;
  logOnce(`setting:${name}`, 'warn', `${name} is not a function; ignoring it`);
  return undefined;
}

export function resolveSettings(config: HttpServerInstrumentationConfig): Settings {
  const ignorePaths = paths('VIGIL_HTTP_IGNORE_PATHS', listSetting('VIGIL_HTTP_IGNORE_PATHS', config.ignorePaths, DEFAULT_IGNORE_PATHS));
  const prefixRules = paths('VIGIL_HTTP_ENDPOINT_PREFIX_RULES', listSetting('VIGIL_HTTP_ENDPOINT_PREFIX_RULES', config.endpointPrefixRules, []));
  const maxSegments = numberSetting('VIGIL_HTTP_MAX_PATH_SEGMENTS', config.maxPathSegments, DEFAULT_MAX_PATH_SEGMENTS, { min: 1, max: 64, integer: true });
  const maxSegmentLength = numberSetting('VIGIL_HTTP_MAX_PATH_SEGMENT_LENGTH', config.maxPathSegmentLength, DEFAULT_MAX_PATH_SEGMENT_LENGTH, {
    min: 8,
    max: 1024,
    integer: true,
  });
  return {
    ignore: new PathMatcher(ignorePaths),
    normaliser: new PathNormaliser({ maxSegments, maxSegmentLength, prefixRules, cacheSize: NORMALISER_CACHE }),
    prefixer: new TemplatePrefixer(prefixRules),
    routeResolver: hook<HttpRouteResolver>('routeResolver', config.routeResolver),
    userRoleResolver: hook<HttpUserRoleResolver>('userRoleResolver', config.userRoleResolver),
  };
}
