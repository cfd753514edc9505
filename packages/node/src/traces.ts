// Traces are OpenTelemetry's upstream instrumentations, loaded only when
// OTEL_TRACES_EXPORTER asks for them (the SDK costs ~300 ms of start-up).
import type { Resource } from '@opentelemetry/resources';
import { log } from '@vigil/catalog';
import type { ResolvedConfig } from './config';

export function startTraces(config: ResolvedConfig, resource: Resource): { shutdown(): Promise<void> } | undefined {
  try {
    const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
    const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
    const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
    const { RedisInstrumentation } = require('@opentelemetry/instrumentation-redis') as typeof import('@opentelemetry/instrumentation-redis');
    const instrumentations = [];
    if (config.instrumentations.http) instrumentations.push(new HttpInstrumentation());
    if (config.instrumentations.pg) instrumentations.push(new PgInstrumentation());
    if (config.instrumentations.redis) instrumentations.push(new IORedisInstrumentation(), new RedisInstrumentation());
    // The exporter comes from OTEL_TRACES_EXPORTER and the OTLP variables, read by the SDK;
    // a code option without the variable is passed on through it.
    process.env.OTEL_TRACES_EXPORTER ??= config.tracesExporter;
    const sdk = new NodeSDK({
      resource,
      autoDetectResources: false,
      metricReaders: [], // metrics are vigil's
      logRecordProcessors: [],
      instrumentations,
    });
    sdk.start();
    return sdk;
  } catch (err) {
    log('error', `traces are off: ${(err as Error).message}`);
    return undefined;
  }
}
