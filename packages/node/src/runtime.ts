// Node.js runtime metrics under prom-client's names, so existing Node
// dashboards work: CPU, resident memory, heap, event loop delay, GC.
import type { BatchObservableCallback, Meter } from '@opentelemetry/api';
import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import {
  createHistogram,
  createObservableCounter,
  createObservableGauge,
  logOnce,
  nodejsEventloopLagMaxSeconds,
  nodejsEventloopLagP50Seconds,
  nodejsEventloopLagP99Seconds,
  nodejsExternalMemoryBytes,
  nodejsGcDurationSeconds,
  nodejsHeapSizeTotalBytes,
  nodejsHeapSizeUsedBytes,
  processCpuSecondsTotal,
  processCpuSystemSecondsTotal,
  processCpuUserSecondsTotal,
  processResidentMemoryBytes,
  processStartTimeSeconds,
} from '@vigil/catalog';

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Starts the runtime metrics; returns a function that stops them. */
export function startRuntimeMetrics(meter: Meter): () => void {
  const startSeconds = Math.round(performance.timeOrigin) / 1000;
  let loop: IntervalHistogram | undefined;
  try {
    loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
  } catch (err) {
    logOnce('runtime:eventloop', 'warn', `event loop delay is not measurable here: ${(err as Error).message}`);
  }

  const user = createObservableCounter(meter, processCpuUserSecondsTotal);
  const system = createObservableCounter(meter, processCpuSystemSecondsTotal);
  const cpu = createObservableCounter(meter, processCpuSecondsTotal);
  const rss = createObservableGauge(meter, processResidentMemoryBytes);
  const start = createObservableGauge(meter, processStartTimeSeconds);
  const heapUsed = createObservableGauge(meter, nodejsHeapSizeUsedBytes);
  const heapTotal = createObservableGauge(meter, nodejsHeapSizeTotalBytes);
  const external = createObservableGauge(meter, nodejsExternalMemoryBytes);
  const lagP50 = createObservableGauge(meter, nodejsEventloopLagP50Seconds);
  const lagP99 = createObservableGauge(meter, nodejsEventloopLagP99Seconds);
  const lagMax = createObservableGauge(meter, nodejsEventloopLagMaxSeconds);

  const observables = [user, system, cpu, rss, start, heapUsed, heapTotal, external, lagP50, lagP99, lagMax];
  const callback: BatchObservableCallback = (r) => {
      const usage = process.cpuUsage();
      r.observe(user, usage.user / 1e6);
      r.observe(system, usage.system / 1e6);
      r.observe(cpu, (usage.user + usage.system) / 1e6);
      const mem = process.memoryUsage();
      r.observe(rss, mem.rss);
      r.observe(heapUsed, mem.heapUsed);
      r.observe(heapTotal, mem.heapTotal);
      r.observe(external, mem.external);
      r.observe(start, startSeconds);
      if (loop && loop.count > 0) {
        // Percentiles since the previous collection, in seconds.
        r.observe(lagP50, loop.percentile(50) / 1e9);
        r.observe(lagP99, loop.percentile(99) / 1e9);
        r.observe(lagMax, loop.max / 1e9);
        loop.reset();
      }
  };
  meter.addBatchObservableCallback(callback, observables);

  const gcDuration = createHistogram(meter, nodejsGcDurationSeconds);
  let gc: PerformanceObserver | undefined;
  try {
    gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
        gcDuration.record(entry.duration / 1000, { kind });
      }
    });
    gc.observe({ entryTypes: ['gc'] });
  } catch (err) {
    logOnce('runtime:gc', 'warn', `GC durations are not measurable here: ${(err as Error).message}`);
  }

  return () => {
    loop?.disable();
    gc?.disconnect();
    meter.removeBatchObservableCallback(callback, observables);
  };
}
