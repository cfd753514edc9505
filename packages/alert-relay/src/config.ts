import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { AuthConfig, RateLimit, RelayConfig, RouteConfig, TargetConfig } from './internal-types';
import type { RelayConfigInput, TargetType } from './types';

/** A configuration problem; `field` is the dotted path of the offending key. */
export class RelayConfigError extends Error {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = 'RelayConfigError';
    this.field = field;
  }
}

/** Defaults per service, from each service's documentation. */
export const SERVICE_DEFAULTS: Record<TargetType, { maxBytes: number; rateLimits: RateLimit[] }> = {
  // DingTalk custom robot: 20 messages a minute per robot (more: throttled for 10 minutes);
  // errcode 460101 when a message exceeds 20000 bytes.
  dingtalk: { maxBytes: 20000, rateLimits: [{ count: 20, windowMs: 60_000 }] },
  // WeCom group robot: 20 messages a minute per robot (errcode 45009);
  // markdown.content at most 4096 bytes (errcode 40058).
  wecom: { maxBytes: 4096, rateLimits: [{ count: 20, windowMs: 60_000 }] },
  // Feishu custom bot: 100 requests a minute and 5 a second per bot (code 11232);
  // the request body must not exceed 20 KB (code 9499). The 30 KB figure often
  // quoted is the card JSON limit of the message API, not of custom-bot webhooks.
  feishu: {
    maxBytes: 20000,
    rateLimits: [
      { count: 100, windowMs: 60_000 },
      { count: 5, windowMs: 1_000 },
    ],
  },
};

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const TOP_KEYS = [
  'listen',
  'auth',
  'max_body_bytes',
  'delivery_timeout',
  'request_timeout',
  'dedupe_ttl',
  'dedupe_max_entries',
  'time_zone',
  'language',
  'log_level',
  'routes',
  'targets',
];
const TARGET_KEYS = [
  'type',
  'url',
  'url_file',
  'url_env',
  'secret',
  'secret_file',
  'secret_env',
  'max_bytes',
  'max_parts',
  'rate_limits',
  'rate_limit_cooldown',
  'queue_capacity',
  'title_prefix',
  'format',
  'at_mobiles',
  'at_all',
];

interface Ctx {
  env: NodeJS.ProcessEnv;
  baseDir: string;
}

/**
 * Reads a YAML configuration file (no validation yet: `createRelay` validates).
 * Throws RelayConfigError when the file cannot be read or is not YAML.
 */
export function readConfigFile(path: string): RelayConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RelayConfigError('', `cannot read configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseYaml(text) as RelayConfigInput;
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      throw new RelayConfigError('', `${path}: YAML syntax error${where}: ${err.message.split('\n')[0]}`);
    }
    throw err;
  }
}

/** Validates a configuration object (the YAML shape) and resolves its secrets. Throws RelayConfigError. */
export function resolveConfig(input: RelayConfigInput | unknown, ctx: { env?: NodeJS.ProcessEnv; baseDir?: string } = {}): RelayConfig {
  const c: Ctx = { env: ctx.env ?? process.env, baseDir: ctx.baseDir ?? process.cwd() };
  const raw = expandEnv(input, '', c);
  const top = asObject(raw, '', 'the configuration must be a mapping');
  unknownKeys(top, TOP_KEYS, '');

  const targetsRaw = asObject(top['targets'], 'targets', 'required: a mapping of target name to target');
  const targets = new Map<string, TargetConfig>();
  for (const [name, value] of Object.entries(targetsRaw)) {
    if (!NAME_RE.test(name)) throw new RelayConfigError(`targets.${name}`, 'a target name may hold letters, digits, "_", "." and "-"');
    targets.set(name, resolveTarget(name, value, c));
  }
  if (targets.size === 0) throw new RelayConfigError('targets', 'at least one target is required');

  const routesRaw = asObject(top['routes'], 'routes', 'required: a mapping of route name to route');
  const routes = new Map<string, RouteConfig>();
  for (const [name, value] of Object.entries(routesRaw)) {
    const field = `routes.${name}`;
    if (!NAME_RE.test(name)) throw new RelayConfigError(field, 'a route name may hold letters, digits, "_", "." and "-"');
    const route = asObject(value, field, 'must be a mapping with "targets"');
    unknownKeys(route, ['targets'], field);
    const list = route['targets'];
    if (!Array.isArray(list) || list.length === 0) throw new RelayConfigError(`${field}.targets`, 'required: a list of at least one target name');
    const names: string[] = [];
    list.forEach((t, i) => {
      if (typeof t !== 'string') throw new RelayConfigError(`${field}.targets[${i}]`, 'must be a target name');
      if (!targets.has(t)) throw new RelayConfigError(`${field}.targets[${i}]`, `no target named "${t}" (known: ${[...targets.keys()].join(', ')})`);
      if (!names.includes(t)) names.push(t);
    });
    routes.set(name, { name, targets: names });
  }
  if (routes.size === 0) throw new RelayConfigError('routes', 'at least one route is required');

  const deliveryTimeoutMs = duration(top['delivery_timeout'], 'delivery_timeout', 8_000);
  const requestTimeoutMs = duration(top['request_timeout'], 'request_timeout', 5_000);
  if (deliveryTimeoutMs <= 0) throw new RelayConfigError('delivery_timeout', 'must be positive');
  if (requestTimeoutMs <= 0) throw new RelayConfigError('request_timeout', 'must be positive');

  const timeZone = optString(top['time_zone'], 'time_zone') ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw new RelayConfigError('time_zone', `unknown time zone "${timeZone}" (use an IANA name such as UTC or Asia/Shanghai)`);
  }
  const language = oneOf(top['language'], 'language', ['zh', 'en'] as const) ?? 'zh';
  const logLevel = oneOf(top['log_level'], 'log_level', ['debug', 'info', 'warn', 'error'] as const) ?? 'info';

  return {
    listen: parseListen(top['listen'] ?? '0.0.0.0:8080', 'listen'),
    auth: resolveAuth(top['auth'], c),
    maxBodyBytes: positiveInt(top['max_body_bytes'], 'max_body_bytes', 4 * 1024 * 1024),
    deliveryTimeoutMs,
    requestTimeoutMs,
    dedupeTtlMs: duration(top['dedupe_ttl'], 'dedupe_ttl', 10 * 60_000),
    dedupeMaxEntries: positiveInt(top['dedupe_max_entries'], 'dedupe_max_entries', 10_000),
    timeZone,
    language,
    logLevel,
    routes,
    targets,
  };
}

/** `host:port`, `:port` or `[v6]:port`. */
export function parseListen(value: unknown, field: string): { host: string; port: number } {
  if (typeof value !== 'string') throw new RelayConfigError(field, 'must be "host:port"');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RelayConfigError(field, `"${value}" is not "host:port" (for example 0.0.0.0:8080)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Parses `500ms`, `8s`, `1m30s`, `2h`. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? Math.round(total) : undefined;
}

function resolveTarget(name: string, value: unknown, c: Ctx): TargetConfig {
  const field = `targets.${name}`;
  const t = asObject(value, field, 'must be a mapping with "type" and "url"');
  unknownKeys(t, TARGET_KEYS, field);
  const type = oneOf(t['type'], `${field}.type`, ['dingtalk', 'wecom', 'feishu'] as const);
  if (!type) throw new RelayConfigError(`${field}.type`, 'required: one of dingtalk, wecom, feishu');
  const defaults = SERVICE_DEFAULTS[type];

  const urlText = secret(t, 'url', field, c);
  if (urlText === undefined) throw new RelayConfigError(`${field}.url`, 'required: set one of url, url_file, url_env');
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    // The URL carries the robot's credential: never echo it.
    throw new RelayConfigError(`${field}.url`, 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RelayConfigError(`${field}.url`, 'must be an http(s) URL');
  if (type === 'dingtalk' && !url.searchParams.get('access_token')) {
    throw new RelayConfigError(`${field}.url`, 'a DingTalk robot URL carries ?access_token=...');
  }
  if (type === 'wecom' && !url.searchParams.get('key')) {
    throw new RelayConfigError(`${field}.url`, 'a WeCom robot URL carries ?key=...');
  }

  const sec = secret(t, 'secret', field, c);
  if (sec !== undefined && type === 'wecom') throw new RelayConfigError(`${field}.secret`, 'WeCom group robots have no signing secret');
  if (sec !== undefined && sec.length === 0) throw new RelayConfigError(`${field}.secret`, 'is empty');

  let rateLimits = defaults.rateLimits;
  if (t['rate_limits'] !== undefined) {
    const list = t['rate_limits'];
    if (!Array.isArray(list)) throw new RelayConfigError(`${field}.rate_limits`, 'must be a list of {count, per}');
    rateLimits = list.map((item, i) => {
      const f = `${field}.rate_limits[${i}]`;
      const o = asObject(item, f, 'must be {count: N, per: DURATION}');
      unknownKeys(o, ['count', 'per'], f);
      const count = positiveInt(o['count'], `${f}.count`, undefined);
      const windowMs = duration(o['per'], `${f}.per`, undefined);
      if (windowMs <= 0) throw new RelayConfigError(`${f}.per`, 'must be positive');
      return { count, windowMs };
    });
  }
  const longest = rateLimits.reduce((a, r) => Math.max(a, r.windowMs), 0);

  const format = oneOf(t['format'], `${field}.format`, ['card', 'text'] as const) ?? 'card';
  if (t['format'] !== undefined && type !== 'feishu') throw new RelayConfigError(`${field}.format`, 'only Feishu targets have a format');
  const atMobiles = t['at_mobiles'] === undefined ? [] : stringList(t['at_mobiles'], `${field}.at_mobiles`);
  const atAll = t['at_all'] === undefined ? false : bool(t['at_all'], `${field}.at_all`);
  if ((atMobiles.length > 0 || atAll) && type !== 'dingtalk') throw new RelayConfigError(`${field}.at_mobiles`, 'only DingTalk targets support @-mentions');

  const maxBytes = positiveInt(t['max_bytes'], `${field}.max_bytes`, defaults.maxBytes);
  if (maxBytes < 512) throw new RelayConfigError(`${field}.max_bytes`, 'must be at least 512');
  return {
    name,
    type,
    url,
    secret: sec,
    maxBytes,
    maxParts: positiveInt(t['max_parts'], `${field}.max_parts`, 10),
    rateLimits,
    cooldownMs: duration(t['rate_limit_cooldown'], `${field}.rate_limit_cooldown`, longest),
    queueCapacity: positiveInt(t['queue_capacity'], `${field}.queue_capacity`, 100),
    titlePrefix: optString(t['title_prefix'], `${field}.title_prefix`) ?? '',
    format,
    atMobiles,
    atAll,
  };
}

function resolveAuth(value: unknown, c: Ctx): AuthConfig | undefined {
  if (value === undefined || value === null) return undefined;
  const a = asObject(value, 'auth', 'must be a mapping with bearer_token* and/or basic');
  unknownKeys(a, ['bearer_token', 'bearer_token_file', 'bearer_token_env', 'basic'], 'auth');
  const bearerToken = secret(a, 'bearer_token', 'auth', c);
  if (bearerToken !== undefined && bearerToken.length === 0) throw new RelayConfigError('auth.bearer_token', 'is empty');
  let basic: AuthConfig['basic'];
  if (a['basic'] !== undefined) {
    const b = asObject(a['basic'], 'auth.basic', 'must be a mapping with username and password');
    unknownKeys(b, ['username', 'password', 'password_file', 'password_env'], 'auth.basic');
    const username = optString(b['username'], 'auth.basic.username');
    if (!username) throw new RelayConfigError('auth.basic.username', 'required');
    if (username.includes(':')) throw new RelayConfigError('auth.basic.username', 'must not contain ":"');
    const password = secret(b, 'password', 'auth.basic', c);
    if (!password) throw new RelayConfigError('auth.basic.password', 'required: set one of password, password_file, password_env');
    basic = { username, password };
  }
  if (bearerToken === undefined && basic === undefined) {
    throw new RelayConfigError('auth', 'set bearer_token (or _file / _env) or basic, or remove auth');
  }
  return { bearerToken, basic };
}

/** Reads `key`, `key_file` or `key_env` (exactly one). */
function secret(o: Record<string, unknown>, key: string, parent: string, c: Ctx): string | undefined {
  const given = [key, `${key}_file`, `${key}_env`].filter((k) => o[k] !== undefined && o[k] !== null);
  if (given.length === 0) return undefined;
  if (given.length > 1) throw new RelayConfigError(`${parent}.${key}`, `set only one of ${given.join(', ')}`);
  const k = given[0]!;
  const field = `${parent}.${k}`;
  const v = o[k];
  if (typeof v !== 'string') throw new RelayConfigError(field, 'must be a string');
  if (k === key) return v;
  if (k.endsWith('_file')) {
    const path = resolve(c.baseDir, v);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new RelayConfigError(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const fromEnv = c.env[v];
  if (fromEnv === undefined || fromEnv === '') throw new RelayConfigError(field, `environment variable ${v} is not set`);
  return fromEnv;
}

/** Replaces `${VAR}` in every string value; `$${` is a literal `${`. */
function expandEnv(value: unknown, path: string, c: Ctx): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$(\$?)\{([^}]*)\}/g, (whole, escaped: string, name: string) => {
      if (escaped) return whole.slice(1);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new RelayConfigError(path, `"\${${name}}" is not a valid environment variable reference`);
      const v = c.env[name];
      if (v === undefined) throw new RelayConfigError(path, `environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, `${path}[${i}]`, c));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, path ? `${path}.${k}` : k, c);
    return out;
  }
  return value;
}

function asObject(value: unknown, field: string, problem: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RelayConfigError(field, problem);
  return value as Record<string, unknown>;
}

function unknownKeys(o: Record<string, unknown>, known: string[], field: string): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new RelayConfigError(field ? `${field}.${k}` : k, `unknown field (known: ${known.join(', ')})`);
  }
}

function optString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new RelayConfigError(field, 'must be a string');
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new RelayConfigError(field, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function positiveInt(value: unknown, field: string, fallback: number | undefined): number {
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new RelayConfigError(field, 'required');
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new RelayConfigError(field, 'must be a positive integer');
  return value;
}

function duration(value: unknown, field: string, fallback: number | undefined): number {
  if (value === undefined || value === null) {
    if (fallback === undefined) throw new RelayConfigError(field, 'required');
    return fallback;
  }
  const ms = typeof value === 'string' ? parseDuration(value.trim()) : undefined;
  if (ms === undefined) throw new RelayConfigError(field, `must be a duration with a unit, like 500ms, 8s, 10m (got ${JSON.stringify(value)})`);
  return ms;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new RelayConfigError(field, 'must be a list of strings');
  return value as string[];
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new RelayConfigError(field, 'must be true or false');
  return value;
}
