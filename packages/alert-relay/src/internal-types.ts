import type { LogRecord, TargetType, TemplateLanguage } from './types';

/** A rate limit in milliseconds. */
export interface RateLimit {
  count: number;
  windowMs: number;
}

/** A target with every default applied and every secret resolved. */
export interface TargetConfig {
  name: string;
  type: TargetType;
  url: URL;
  secret: string | undefined;
  maxBytes: number;
  maxParts: number;
  rateLimits: RateLimit[];
  cooldownMs: number;
  queueCapacity: number;
  titlePrefix: string;
  format: 'card' | 'text';
  atMobiles: string[];
  atAll: boolean;
}

export interface RouteConfig {
  name: string;
  targets: string[];
}

export interface AuthConfig {
  bearerToken: string | undefined;
  basic: { username: string; password: string } | undefined;
}

/** The configuration after validation. */
export interface RelayConfig {
  listen: { host: string; port: number };
  auth: AuthConfig | undefined;
  maxBodyBytes: number;
  deliveryTimeoutMs: number;
  requestTimeoutMs: number;
  dedupeTtlMs: number;
  dedupeMaxEntries: number;
  timeZone: string;
  language: TemplateLanguage;
  logLevel: LogRecord['level'];
  routes: Map<string, RouteConfig>;
  targets: Map<string, TargetConfig>;
}

/** An Alertmanager webhook payload (version 4) after validation. */
export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Why one message was not delivered (bounded set: it is a metric label). */
export type FailureReason =
  | 'timeout'
  | 'network'
  | 'http_status'
  | 'rejected'
  | 'rate_limited'
  | 'too_large'
  | 'invalid_response'
  | 'queue_full'
  | 'internal';

export type Logger = (level: LogRecord['level'], msg: string, fields?: Record<string, unknown>) => void;
