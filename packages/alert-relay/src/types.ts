/**
 * Public configuration of the alert relay.
 *
 * The shape is the YAML file's shape (snake_case keys, like Alertmanager's own
 * configuration), so the same object can be written in `relay.yml` or passed to
 * `createRelay()` in code.
 *
 * Every secret (`url`, `secret`, `bearer_token`, `password`) can be given in
 * three ways, exactly one at a time:
 * - `field: value` — literally (any string value may also use `${ENV_VAR}`),
 * - `field_file: /path` — read from a file (trailing newline removed; a
 *   relative path is relative to the configuration file),
 * - `field_env: NAME` — read from the environment variable `NAME`.
 */

/** A duration written with a unit: `500ms`, `8s`, `10m`, `1h` (units may be combined: `1m30s`). */
export type DurationString = string;

/** The kinds of chat services the relay posts to. */
export type TargetType = 'dingtalk' | 'wecom' | 'feishu';

/** Language of the built-in message templates. */
export type TemplateLanguage = 'zh' | 'en';

/** Authentication the relay requires on its webhook endpoint. */
export interface AuthConfigInput {
  /**
   * Bearer token Alertmanager must send (`Authorization: Bearer <token>`;
   * Alertmanager: `http_config.authorization.credentials`).
   * @default undefined (no bearer token)
   */
  bearer_token?: string;
  /** File holding the bearer token. @default undefined */
  bearer_token_file?: string;
  /** Environment variable holding the bearer token. @default undefined */
  bearer_token_env?: string;
  /**
   * HTTP basic credentials Alertmanager must send
   * (Alertmanager: `http_config.basic_auth`).
   * @default undefined (no basic auth)
   */
  basic?: BasicAuthInput;
}

/** HTTP basic credentials. */
export interface BasicAuthInput {
  /**
   * User name.
   * @default none (required when `basic` is set)
   */
  username: string;
  /** Password. @default undefined */
  password?: string;
  /** File holding the password. @default undefined */
  password_file?: string;
  /** Environment variable holding the password. @default undefined */
  password_env?: string;
}

/** One rate limit: at most `count` messages in any window of `per`. */
export interface RateLimitInput {
  /**
   * Messages allowed in one window.
   * @default none (required)
   */
  count: number;
  /**
   * Window length, e.g. `1m`.
   * @default none (required)
   */
  per: DurationString;
}

/** One chat robot the relay posts to. */
export interface TargetConfigInput {
  /**
   * The kind of chat service.
   * @default none (required)
   */
  type: TargetType;
  /**
   * The robot's webhook URL. It carries the robot's credential
   * (DingTalk `access_token`, WeCom `key`, Feishu hook id), so prefer
   * `url_file` or `url_env`.
   * @default none (one of `url`, `url_file`, `url_env` is required)
   */
  url?: string;
  /** File holding the webhook URL. @default undefined */
  url_file?: string;
  /** Environment variable holding the webhook URL. @default undefined */
  url_env?: string;
  /**
   * Signing secret: DingTalk "加签" secret (`SEC...`), Feishu "签名校验" secret.
   * WeCom group robots have no signing secret (setting one is an error).
   * @default undefined (unsigned)
   */
  secret?: string;
  /** File holding the signing secret. @default undefined */
  secret_file?: string;
  /** Environment variable holding the signing secret. @default undefined */
  secret_env?: string;
  /**
   * Largest message the service accepts, in bytes, as the service measures it:
   * DingTalk the request body, WeCom `markdown.content`, Feishu the request body.
   * Longer groups are split into several messages on line boundaries.
   * @default 20000 (DingTalk), 4096 (WeCom), 20000 (Feishu)
   */
  max_bytes?: number;
  /**
   * Most messages one notification may be split into; beyond that the last
   * message lists how many alerts were left out (trimming is the last resort).
   * @default 10
   */
  max_parts?: number;
  /**
   * The service's rate limits, all enforced at once by queueing.
   * @default [{count: 20, per: 1m}] (DingTalk, WeCom), [{count: 100, per: 1m}, {count: 5, per: 1s}] (Feishu)
   */
  rate_limits?: RateLimitInput[];
  /**
   * How long to stop sending after the service answers "too many requests".
   * @default the longest rate-limit window
   */
  rate_limit_cooldown?: DurationString;
  /**
   * Messages that may wait for this target; a notification that does not fit
   * is refused with 503 so Alertmanager retries later.
   * @default 100
   */
  queue_capacity?: number;
  /**
   * Text put in front of every message title, e.g. an environment name or the
   * keyword a DingTalk / Feishu robot's keyword check requires.
   * @default ""
   */
  title_prefix?: string;
  /** Feishu only: `card` (interactive card with Markdown) or `text`. @default "card" */
  format?: 'card' | 'text';
  /** DingTalk only: mobile numbers to @-mention on firing notifications. @default [] */
  at_mobiles?: string[];
  /** DingTalk only: @-mention everyone on firing notifications. @default false */
  at_all?: boolean;
}

/** One webhook endpoint: `POST /alerts/<route name>` posts to these targets. */
export interface RouteConfigInput {
  /**
   * Names of targets (keys of `targets`) every notification of this route goes to.
   * @default none (required, at least one)
   */
  targets: string[];
}

/** The relay's configuration (the YAML file). */
export interface RelayConfigInput {
  /**
   * Address the service listens on, `host:port` (port 0 picks a free port).
   * Overridden by `--listen` / `VIGIL_ALERT_RELAY_LISTEN` in the command.
   * @default "0.0.0.0:8080"
   */
  listen?: string;
  /**
   * Authentication on the webhook endpoint (`/alerts/...`). When both a bearer
   * token and basic credentials are set, either is accepted.
   * @default undefined (no authentication; a warning is logged at start)
   */
  auth?: AuthConfigInput;
  /**
   * Largest request body accepted, in bytes; larger ones get 413.
   * Limit what Alertmanager sends with `max_alerts` on its `webhook_config`.
   * @default 4194304 (4 MiB)
   */
  max_body_bytes?: number;
  /**
   * How long one webhook call may take to deliver every message before the
   * relay answers 503. Keep it below Alertmanager's notification timeout
   * (at least 10s, or the route's `group_interval` when longer).
   * @default "8s"
   */
  delivery_timeout?: DurationString;
  /** Timeout of one HTTP request to a chat service. @default "5s" */
  request_timeout?: DurationString;
  /**
   * How long a delivered message is remembered, so a retry of the same
   * notification skips what was already delivered. Keep it below
   * Alertmanager's `repeat_interval`, or repeated reminders are suppressed.
   * @default "10m"
   */
  dedupe_ttl?: DurationString;
  /** Most delivered messages remembered per target. @default 10000 */
  dedupe_max_entries?: number;
  /** IANA time zone for times in messages, e.g. `Asia/Shanghai`. @default "UTC" */
  time_zone?: string;
  /** Language of the message templates. @default "zh" (as the seed's notifier) */
  language?: TemplateLanguage;
  /** Lowest log level written. @default "info" */
  log_level?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Webhook endpoints by name: `POST /alerts/<name>` (`POST /alerts` is the route named `default`).
   * @default none (required, at least one)
   */
  routes: Record<string, RouteConfigInput>;
  /**
   * Chat robots by name.
   * @default none (required, at least one)
   */
  targets: Record<string, TargetConfigInput>;
}

/** One structured log record. */
export interface LogRecord {
  /** ISO time. */
  time: string;
  /** Severity. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** What happened; the other fields give the details. */
  msg: string;
  [field: string]: unknown;
}

/** Options of `createRelay()` that are not part of the configuration file. */
export interface RelayOptions {
  /**
   * Receives every log record at or above `log_level`.
   * @default one JSON line per record on stderr
   */
  log?: (record: LogRecord) => void;
  /** Environment used for `${VAR}` and `*_env`. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Directory relative `*_file` paths are resolved against. @default process.cwd() */
  baseDir?: string;
}

/** Where a started relay listens. */
export interface RelayAddress {
  /** The address the server is bound to. */
  host: string;
  /** The port (the one picked when `listen` asked for port 0). */
  port: number;
  /** `http://host:port` */
  url: string;
}
