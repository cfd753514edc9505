// Resolves VigilOptions into one settled configuration: code option, then
// environment variable, then documented default. Nothing here throws: a bad
// value is reported once, naming the setting, and its default is used.
import { randomBytes } from 'node:crypto';
import {
  booleanSetting,
  log,
  choiceSetting,
  listSetting,
  logOnce,
  numberSetting,
  stringSetting,
  DEFAULT_CARDINALITY_LIMIT,
} from '@vigil/catalog';
import type { MetricsExporterName, OtlpProtocol, TracesExporterName, VigilOptions } from './types';

export interface ResolvedConfig {
  disabled: boolean;
  serviceName: string | undefined;
  resourceAttributes: Record<string, string>;
  resourceDetectors: string[];
  exporters: Set<Exclude<MetricsExporterName, 'none'>>;
  prometheus: { host: string; port: number; bearerToken?: string; basicAuth?: string };
  otlp: { endpoint: string; protocol: OtlpProtocol; headers: Record<string, string>; intervalMs: number; timeoutMs: number; requestTimeoutMs: number };
  tracesExporter: TracesExporterName;
  runtimeMetrics: boolean;
  healthEndpoint: boolean;
  instrumentations: { http: boolean; pg: boolean; redis: boolean };
  cardinalityLimit: number;
  shutdownTimeoutMs: number;
  logLevel: 'none' | 'error' | 'warn' | 'info' | 'debug';
}

const METRICS_EXPORTERS: readonly MetricsExporterName[] = ['prometheus', 'otlp', 'console', 'none'];
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
const TRACES_EXPORTERS: readonly TracesExporterName[] = ['none', 'otlp', 'console', 'zipkin'];
const INSTRUMENTATIONS = ['http', 'pg', 'redis'] as const;
const LOG_LEVELS = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;
const DETECTORS = ['env', 'host', 'os', 'process', 'serviceinstance', 'all', 'none'];
const MAX_CREDENTIAL_LENGTH = 4096;
const DEFAULT_DETECTORS = ['env', 'host', 'os', 'process', 'serviceinstance'];

/** Parses "k=v,k2=v2" (values percent-decoded, as the OTel spec says); bad pairs are reported and skipped. */
export function parseKeyValueList(name: string, raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    if (!key) {
      logOnce(`kv:${name}:${part}`, 'warn', `${name}: "${part.slice(0, 80)}" is not key=value; skipping it`);
      continue;
    }
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Keep the raw text: a stray % is more likely meant literally than an error.
    }
    out[key] = value;
  }
  return out;
}

function exporterList(options: VigilOptions): Set<Exclude<MetricsExporterName, 'none'>> {
  const names = listSetting('OTEL_METRICS_EXPORTER', options.metricsExporters, ['prometheus']).map((n) => n.toLowerCase());
  const set = new Set<Exclude<MetricsExporterName, 'none'>>();
  for (const n of names) {
    if (!METRICS_EXPORTERS.includes(n as MetricsExporterName)) {
      logOnce(`exporter:${n}`, 'warn', `OTEL_METRICS_EXPORTER: unknown exporter "${n.slice(0, 40)}" (known: prometheus, otlp, console, none); ignoring it`);
      continue;
    }
    if (n !== 'none') set.add(n as Exclude<MetricsExporterName, 'none'>);
  }
  if (names.length > 0 && set.size === 0 && !names.includes('none')) {
    logOnce('exporter:fallback', 'warn', 'OTEL_METRICS_EXPORTER names no known exporter; using prometheus');
    set.add('prometheus');
  }
  // The seed's PROMETHEUS_ENABLED switches the pull endpoint on or off on top of the list.
  const env = process.env.PROMETHEUS_ENABLED;
  if (options.prometheusEnabled !== undefined || (env !== undefined && env.trim() !== '')) {
    if (booleanSetting('PROMETHEUS_ENABLED', options.prometheusEnabled, true)) set.add('prometheus');
    else set.delete('prometheus');
  }
  return set;
}

function otlpEndpoint(options: VigilOptions, protocol: OtlpProtocol): string {
  const signal = stringSetting('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', options.otlpEndpoint, '');
  let endpoint = signal;
  if (!endpoint) {
    const base = stringSetting('OTEL_EXPORTER_OTLP_ENDPOINT', undefined, '');
    // The generic endpoint is a base URL: HTTP appends the signal path, gRPC does not.
    if (base) endpoint = protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/metrics`;
  }
  const fallback = protocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318/v1/metrics';
  if (!endpoint) return fallback;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return endpoint;
  } catch {
    const setting = signal ? 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
    logOnce(`otlp-endpoint:${endpoint}`, 'warn', `${setting}="${endpoint.slice(0, 80)}" is not an http(s) URL; using ${fallback}`);
    return fallback;
  }
}

// A credential that was set but cannot be used fails closed: /metrics then refuses every scrape.
function credentials(name: string, option: string | undefined): string | undefined {
  const given = String(option ?? process.env[name] ?? '').trim();
  if (given === '') return undefined;
  if (given.length <= MAX_CREDENTIAL_LENGTH) return given;
  log('error', `${name} is ${given.length} characters long (more than ${MAX_CREDENTIAL_LENGTH}); /metrics refuses every scrape until it is fixed`);
  return randomBytes(32).toString('hex');
}

function logLevel(options: VigilOptions): ResolvedConfig['logLevel'] {
  const level = choiceSetting('OTEL_LOG_LEVEL', options.logLevel, LOG_LEVELS, 'info');
  return level === 'verbose' || level === 'all' ? 'debug' : level;
}

export function resolveConfig(options: VigilOptions = {}): ResolvedConfig {
  const protocolEnv = process.env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL?.trim() ? 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = choiceSetting<OtlpProtocol>(protocolEnv, options.otlpProtocol, PROTOCOLS, 'http/protobuf');
  const headersEnv = process.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS?.trim() ? 'OTEL_EXPORTER_OTLP_METRICS_HEADERS' : 'OTEL_EXPORTER_OTLP_HEADERS';
  const requestTimeoutEnv = process.env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT?.trim() ? 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const disabledList = listSetting('VIGIL_DISABLED_INSTRUMENTATIONS', options.disabledInstrumentations, []).map((s) => s.toLowerCase());
  for (const d of disabledList) {
    if (!(INSTRUMENTATIONS as readonly string[]).includes(d)) {
      logOnce(`instr:${d}`, 'warn', `VIGIL_DISABLED_INSTRUMENTATIONS: unknown instrumentation "${d.slice(0, 40)}" (known: http, pg, redis); ignoring it`);
    }
  }
  const detectors = listSetting('OTEL_NODE_RESOURCE_DETECTORS', options.resourceDetectors, DEFAULT_DETECTORS)
    .map((d) => d.toLowerCase())
    .filter((d) => {
      if (DETECTORS.includes(d)) return true;
      logOnce(`detector:${d}`, 'warn', `OTEL_NODE_RESOURCE_DETECTORS: "${d.slice(0, 40)}" is not available in vigil (known: ${DETECTORS.join(', ')}); ignoring it`);
      return false;
    });

  return {
    disabled: booleanSetting('OTEL_SDK_DISABLED', options.disabled, false),
    serviceName: stringSetting('OTEL_SERVICE_NAME', options.serviceName, '') || undefined,
    resourceAttributes: { ...parseKeyValueList('OTEL_RESOURCE_ATTRIBUTES', process.env.OTEL_RESOURCE_ATTRIBUTES), ...options.resourceAttributes },
    resourceDetectors: detectors,
    exporters: exporterList(options),
    prometheus: {
      host: stringSetting('OTEL_EXPORTER_PROMETHEUS_HOST', options.prometheusHost, '127.0.0.1'),
      port: numberSetting('OTEL_EXPORTER_PROMETHEUS_PORT', options.prometheusPort, 9464, { min: 0, max: 65535, integer: true }),
      bearerToken: credentials('VIGIL_METRICS_BEARER_TOKEN', options.metricsAuth?.bearerToken),
      basicAuth: credentials('VIGIL_METRICS_BASIC_AUTH', options.metricsAuth?.basicAuth),
    },
    otlp: {
      protocol,
      endpoint: otlpEndpoint(options, protocol),
      headers: options.otlpHeaders ?? parseKeyValueList(headersEnv, process.env[headersEnv]),
      intervalMs: numberSetting('OTEL_METRIC_EXPORT_INTERVAL', options.exportIntervalMs, 60_000, { min: 100, max: 86_400_000, integer: true }),
      timeoutMs: numberSetting('OTEL_METRIC_EXPORT_TIMEOUT', options.exportTimeoutMs, 30_000, { min: 100, max: 600_000, integer: true }),
      requestTimeoutMs: numberSetting(requestTimeoutEnv, options.otlpTimeoutMs, 10_000, { min: 100, max: 600_000, integer: true }),
    },
    tracesExporter: choiceSetting<TracesExporterName>('OTEL_TRACES_EXPORTER', options.tracesExporter, TRACES_EXPORTERS, 'none'),
    runtimeMetrics: booleanSetting('VIGIL_RUNTIME_METRICS', options.runtimeMetrics, true),
    healthEndpoint: booleanSetting('VIGIL_HEALTH_ENDPOINT', options.healthEndpoint, true),
    instrumentations: {
      http: !disabledList.includes('http'),
      pg: !disabledList.includes('pg'),
      redis: !disabledList.includes('redis'),
    },
    cardinalityLimit: numberSetting('VIGIL_METRIC_CARDINALITY_LIMIT', options.cardinalityLimit, DEFAULT_CARDINALITY_LIMIT, { min: 1, max: 1_000_000, integer: true }),
    shutdownTimeoutMs: numberSetting('VIGIL_SHUTDOWN_TIMEOUT_MS', options.shutdownTimeoutMs, 5000, { min: 0, max: 120_000, integer: true }),
    logLevel: logLevel(options),
  };
}
