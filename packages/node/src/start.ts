import { arch, hostname } from 'node:os';
import { diag, DiagLogLevel, metrics, type Attributes, type DiagLogger } from '@opentelemetry/api';
import { setGlobalErrorHandler } from '@opentelemetry/core';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import {
  envDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type ResourceDetector,
} from '@opentelemetry/resources';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { leanRegistry, log, logOnce, METRIC_SOURCE_KEY, setLogLevel } from '@vigil/catalog';
import { HttpServerInstrumentation } from '@vigil/instrumentation-http';
import { PgInstrumentation } from '@vigil/instrumentation-pg';
import { RedisInstrumentation } from '@vigil/instrumentation-redis';
import { resolveConfig, type ResolvedConfig } from './config';
import { prometheusReader, pushReaders } from './readers';
import { startRuntimeMetrics } from './runtime';
import type { MetricsServer } from './server';
import { startTraces } from './traces';
import type { VigilHandle, VigilOptions } from './types';

export const VERSION: string = (require('../../package.json') as { version: string }).version;

const RUNNING = Symbol.for('vigil.running');
type Global = { [RUNNING]?: VigilHandle };

const NOOP: VigilHandle = {
  shutdown: async () => {},
  forceFlush: async () => {},
  metricsPort: undefined,
};

/** Node's os.arch() as OpenTelemetry's host.arch names it (upstream's normalizeArch). */
const HOST_ARCH: Record<string, string> = { arm: 'arm32', ppc: 'ppc32', x64: 'amd64' };

/**
 * Upstream's hostDetector less host.id, which settledAttributes leaves out anyway (upstream reads
 * it from a file, so it is a Promise): merely starting that read loads fs/promises and one more
 * module, ~4% of a preloaded start-up. host.name and host.arch are upstream's (test/detectors).
 */
export const hostDetector: ResourceDetector = {
  detect: () => ({ attributes: { 'host.name': hostname(), 'host.arch': HOST_ARCH[arch()] ?? arch() } }),
};

const DETECTORS: Record<string, ResourceDetector[]> = {
  env: [envDetector],
  host: [hostDetector],
  os: [osDetector],
  process: [processDetector],
  serviceinstance: [serviceInstanceIdDetector],
  all: [envDetector, hostDetector, osDetector, processDetector, serviceInstanceIdDetector],
  none: [],
};

// OpenTelemetry's own diagnostics go through vigil's once-only log.
function routeDiagnostics(level: ResolvedConfig['logLevel']): void {
  const once = (lvl: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) =>
    logOnce(`diag:${message}`, lvl, `opentelemetry: ${[message, ...args.map(String)].join(' ').slice(0, 500)}`);
  const logger: DiagLogger = { error: once('error'), warn: once('warn'), info: once('info'), debug: once('debug'), verbose: once('debug') };
  const levels = { none: DiagLogLevel.NONE, error: DiagLogLevel.ERROR, warn: DiagLogLevel.WARN, info: DiagLogLevel.WARN, debug: DiagLogLevel.DEBUG };
  diag.setLogger(logger, { logLevel: levels[level], suppressOverrideMessage: true });
  // Failed exports are reported once per change of state by StateLoggingExporter; other
  // SDK errors once per distinct first line.
  setGlobalErrorHandler((err) => {
    const first = String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 200);
    if (first.includes('metrics export failed')) return;
    logOnce(`otel-error:${first}`, 'warn', `opentelemetry: ${first}`);
  });
}

/**
 * The attributes the detectors know right away. Attributes that arrive later (host.id is
 * read from a file) are left out: a resource with pending attributes makes every early
 * collection log an error, and start-up must not wait for them.
 */
function settledAttributes(detectors: ResourceDetector[]): Attributes {
  const out: Attributes = {};
  for (const detector of detectors) {
    try {
      for (const [key, value] of Object.entries(detector.detect().attributes ?? {})) {
        if (value instanceof Promise) value.catch(() => {}); // never an unhandled rejection
        else if (value !== undefined) out[key] = value;
      }
    } catch (err) {
      logOnce(`detector:${(err as Error)?.message}`, 'warn', `a resource detector failed: ${(err as Error)?.message ?? err}`);
    }
  }
  return out;
}

/** A promise that settles by `ms` at the latest. */
function bounded(work: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log('warn', `${what} did not finish within ${ms} ms; giving up on it`);
      resolve();
    }, ms);
  });
  return Promise.race([work.then(() => undefined, (err: Error) => log('warn', `${what}: ${err?.message ?? err}`)), timeout]).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Starts vigil: documented HTTP, PostgreSQL and Redis metrics, runtime metrics,
 * and the configured exporters. Never throws; a second call returns the running handle.
 */
export function start(options: VigilOptions = {}): VigilHandle {
  const g = globalThis as Global;
  if (g[RUNNING]) {
    logOnce('start:twice', 'info', 'vigil is already running in this process (preloaded?); start() returns the running instance');
    return g[RUNNING];
  }
  try {
    const config = resolveConfig(options);
    setLogLevel(config.logLevel);
    if (config.disabled) {
      log('info', 'OTEL_SDK_DISABLED is true: vigil records nothing and opens no port');
      return NOOP;
    }
    routeDiagnostics(config.logLevel);
    const handle = startEnabled(config, options);
    g[RUNNING] = handle;
    return handle;
  } catch (err) {
    log('error', `vigil could not start and is off; the application goes on (${(err as Error)?.stack ?? err})`);
    return NOOP;
  }
}

function startEnabled(config: ResolvedConfig, options: VigilOptions): VigilHandle {
  const registry = leanRegistry();
  registry.cardinalityLimit = config.cardinalityLimit;

  const detected = resourceFromAttributes(settledAttributes(config.resourceDetectors.flatMap((d) => DETECTORS[d] ?? [])));
  const resource = detected.merge(
    resourceFromAttributes({
      ...config.resourceAttributes,
      ...(config.serviceName ? { 'service.name': config.serviceName } : {}),
    }),
  );

  // Traces first: the upstream instrumentations must hook module loading before vigil's own
  // instrumentations are registered, or their patches are never applied.
  const traces = config.tracesExporter !== 'none' ? startTraces(config, resource) : undefined;

  const readers: MetricReader[] = [];
  let server: MetricsServer | undefined;
  if (config.exporters.has('prometheus')) {
    const prom = prometheusReader(config, [registry], options.metricsServerRoutes);
    readers.push(prom.reader);
    server = prom.server;
    // @vigil/health's stats endpoint reads metric values through the cumulative pull reader.
    (globalThis as { [METRIC_SOURCE_KEY]?: unknown })[METRIC_SOURCE_KEY] = prom.reader;
  }
  readers.push(...pushReaders(config, [registry]));

  // SDK instruments (runtime, business, gateway) get the same series limit as the lean families.
  const views = [{ instrumentName: '*', aggregationCardinalityLimit: config.cardinalityLimit }];
  const meterProvider = new MeterProvider({ resource, readers, views });
  metrics.setGlobalMeterProvider(meterProvider);

  const instrumentations: Instrumentation[] = [];
  if (config.instrumentations.http) instrumentations.push(new HttpServerInstrumentation(options.http));
  if (config.instrumentations.pg) instrumentations.push(new PgInstrumentation(options.pg));
  if (config.instrumentations.redis) instrumentations.push(new RedisInstrumentation(options.redis));
  const unregister = registerInstrumentations({ instrumentations, meterProvider });

  const stopRuntime = config.runtimeMetrics ? startRuntimeMetrics(meterProvider.getMeter('@vigil/node', VERSION)) : () => {};

  let metricsPort: number | undefined;
  const listening = server?.listen().then((port) => (metricsPort = port));

  let stopping: Promise<void> | undefined;
  const handle: VigilHandle = {
    get metricsPort() {
      return metricsPort;
    },
    forceFlush: () => bounded(meterProvider.forceFlush(), config.shutdownTimeoutMs, 'flushing metrics'),
    shutdown() {
      return (stopping ??= (async () => {
        removeSignalHandlers();
        await listening;
        stopRuntime();
        unregister();
        await bounded(
          Promise.allSettled([meterProvider.shutdown(), traces?.shutdown(), server?.close()]),
          config.shutdownTimeoutMs,
          'shutting down vigil',
        );
        delete (globalThis as Global)[RUNNING];
      })());
    },
  };
  const removeSignalHandlers = installSignalHandlers(handle);
  return handle;
}

/**
 * On SIGTERM / SIGINT: flush, then let the process end as it would without vigil.
 * When the app has its own handler, the app decides when to exit, and may first finish
 * the requests in flight: vigil pushes what is counted now (in case the app calls
 * process.exit) and shuts down when the process ends by itself (beforeExit), so the
 * requests finished meanwhile are pushed too. Otherwise the signal is raised again
 * after the flush, so the default action (exit) happens.
 */
function installSignalHandlers(handle: VigilHandle): () => void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) {
      void handle.forceFlush();
      return;
    }
    void handle.shutdown().finally(() => {
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const onBeforeExit = () => void handle.shutdown();
  for (const s of signals) process.on(s, onSignal);
  process.once('beforeExit', onBeforeExit);
  return () => {
    for (const s of signals) process.removeListener(s, onSignal);
    process.removeListener('beforeExit', onBeforeExit);
  };
}
