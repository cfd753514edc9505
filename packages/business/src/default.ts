// The default instance behind the top-level functions and the decorators. It
// is created on first use from the global meter provider (the one
// `node --require @vigil/node/register` installs) and re-created if that
// provider changes later (an app that starts the SDK after importing us).
import { metrics, type MeterProvider } from '@opentelemetry/api';
import { BusinessMetrics } from './business';
import { installProcessErrorCapture } from './process-errors';
import type { BusinessMetricsOptions } from './types';

let instance: BusinessMetrics | undefined;
let boundProvider: MeterProvider | undefined;
let configured: BusinessMetricsOptions | undefined;
let stopCapture: (() => void) | undefined;

/** The default instance (created on first use). */
export function businessMetrics(): BusinessMetrics {
  const explicit = configured?.meter !== undefined || configured?.meterProvider !== undefined;
  const provider = metrics.getMeterProvider();
  if (instance !== undefined && (explicit || provider === boundProvider)) return instance;
  const old = instance;
  boundProvider = provider;
  instance = new BusinessMetrics(configured);
  if (old) void old.shutdown();
  return instance;
}

/**
 * Replaces the default instance with one built from these options (for example `{ redis }` to count
 * distinct users across instances). Returns it.
 */
export function configureBusinessMetrics(options: BusinessMetricsOptions = {}): BusinessMetrics {
  configured = { ...options };
  const old = instance;
  instance = undefined;
  if (old) void old.shutdown();
  return businessMetrics();
}

/**
 * Counts uncaught exceptions and unhandled rejections into the default instance
 * (application_errors_total{component="process"}) without changing how the process reacts to them.
 * Idempotent; returns the function that stops counting.
 */
export function captureProcessErrors(): () => void {
  if (!stopCapture) {
    const stop = installProcessErrorCapture((e) => businessMetrics().recordError(e, 'process'));
    stopCapture = () => {
      stop();
      stopCapture = undefined;
    };
  }
  return stopCapture;
}
