// cache_size_bytes{server} and redis_memory_usage_ratio{server}: INFO memory of
// every Redis server the process is connected to.
//
// The client patches hand every application connection to `track()`. In the
// background (a timer that never keeps the process alive), every refresh interval,
// the live connections are grouped by server (host:port as the application
// configured it, or the socket path), and INFO memory is read from each server over
// a dedicated connection (probe.ts): a plain socket with the address, TLS options
// and credentials of one of the application's clients, named `vigil-info`, never
// counted in cache_operations_total. It is never queued behind the application's
// commands, cannot be caught in its MULTI, its blocking commands or its subscriber
// mode, and its socket is unref'd. An INFO that does not answer within
// the timeout is abandoned with its connection (a new one is opened next time) and
// the server keeps its last reading.
//
// The readings are gauges in vigil's lean registry, so a scrape reads them as they
// are and never waits on Redis. (OpenTelemetry observable gauges would keep
// exporting a server's last value forever after the process disconnected from it:
// with cumulative temporality the SDK merges each collection into the previous one.)
// A server none of whose application connections is ready any more is dropped at
// the next refresh, with its dedicated connection.
import { logOnce, type LeanValueFamily } from '@vigil/catalog';
import { describe } from './describe';

/** An application connection, as the memory monitor sees it. */
export interface TrackedClient {
  /** The `server` label (host:port or socket path), or undefined while unknown. */
  server(): string | undefined;
  /** Connected and ready for commands. */
  live(): boolean;
  /** Garbage-collected: it can never be connected again. (A closed client may connect again.) */
  gone(): boolean;
  /** Opens a dedicated connection to the same server, with the same address, TLS and credentials. */
  openProbe(): Probe;
}

/** A dedicated connection that answers INFO memory. */
export interface Probe {
  /** The text of INFO memory. */
  info(): Promise<string>;
  close(): void;
}

/** One server's memory. */
export interface MemoryReading {
  server: string;
  usedBytes: number;
  /** used_memory over maxmemory, or over total_system_memory when maxmemory is 0; undefined when neither is known. */
  ratio: number | undefined;
}

export interface MemorySettings {
  enabled: boolean;
  intervalMs: number;
  timeoutMs: number;
}

/** The gauges the readings go to. */
export interface MemoryGauges {
  size: LeanValueFamily;
  ratio: LeanValueFamily;
}

/** Reads used_memory, maxmemory and total_system_memory from INFO memory text. */
export function parseInfoMemory(server: string, text: string): MemoryReading | undefined {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:(\\d+)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const used = field('used_memory');
  if (used === undefined) return undefined;
  const max = field('maxmemory');
  const total = field('total_system_memory');
  const ratio = max !== undefined && max > 0 ? used / max : total !== undefined && total > 0 ? used / total : undefined;
  return { server, usedBytes: used, ratio };
}

class Server {
  probe: Probe | undefined;
  reading: MemoryReading | undefined;
  inflight: Promise<void> | undefined;
  via: TrackedClient | undefined;
  constructor(readonly label: string) {}
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function safe<T, F>(f: () => T, fallback: F): T | F {
  try {
    return f();
  } catch {
    return fallback;
  }
}

const MAX_TRACKED_BEFORE_PRUNE = 1000;
/** The first reading comes this soon after the first connection, however long the interval. */
const FIRST_READING_MS = 1000;

export class MemoryMonitor {
  private readonly clients = new Set<TrackedClient>();
  private readonly servers = new Map<string, Server>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly scratch: string[] = [''];
  private generation = 0;

  constructor(
    private settings: MemorySettings,
    private readonly gauges: MemoryGauges,
  ) {}

  /** New settings (setConfig), or the same ones again after the instrumentation is enabled anew. */
  configure(settings: MemorySettings): void {
    const intervalChanged = settings.intervalMs !== this.settings.intervalMs;
    this.settings = settings;
    if (!settings.enabled) {
      this.close();
      return;
    }
    if (intervalChanged && this.timer !== undefined) this.schedule(Math.min(settings.intervalMs, FIRST_READING_MS));
    this.start();
  }

  /**
   * Remembers an application connection (held weakly by the adapter; adding the same adapter
   * again changes nothing). Connections are remembered even while memory metrics are off, so
   * that switching them on covers them.
   */
  track(client: TrackedClient): void {
    if (this.clients.size >= MAX_TRACKED_BEFORE_PRUNE) {
      for (const c of this.clients) if (safe(() => c.gone(), true)) this.clients.delete(c);
    }
    this.clients.add(client);
    this.start();
  }

  private start(): void {
    if (this.settings.enabled && this.clients.size > 0 && this.timer === undefined && this.running === undefined) {
      this.schedule(Math.min(this.settings.intervalMs, FIRST_READING_MS));
    }
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.refresh()
        .catch((err) => {
          logOnce('redis:memory-refresh', 'warn', `Redis memory readings failed (${describe(err)})`);
        })
        .finally(() => {
          this.running = undefined;
          // Keep going while there is an application connection to watch.
          if (this.settings.enabled && this.clients.size > 0 && this.timer === undefined) this.schedule(this.settings.intervalMs);
        });
    }, ms);
    // Never keep the process alive for metrics.
    this.timer.unref();
  }

  /** Reads every server with a ready application connection (waiting at most timeoutMs), then publishes. */
  async refresh(): Promise<void> {
    if (!this.settings.enabled) return;
    const generation = ++this.generation;
    const { timeoutMs } = this.settings;
    const live = new Map<string, TrackedClient>();
    for (const c of this.clients) {
      if (safe(() => c.gone(), true)) {
        this.clients.delete(c);
        continue;
      }
      if (!safe(() => c.live(), false)) continue;
      const label = safe(() => c.server(), undefined);
      if (label !== undefined && !live.has(label)) live.set(label, c);
    }
    for (const [label, s] of this.servers) {
      if (!live.has(label)) {
        safe(() => s.probe?.close(), undefined);
        this.servers.delete(label);
      }
    }
    const waits: Promise<void>[] = [];
    for (const [label, client] of live) {
      let s = this.servers.get(label);
      if (s === undefined) this.servers.set(label, (s = new Server(label)));
      s.via = client;
      // An INFO still unanswered from the last round is not sent again.
      waits.push(s.inflight ?? this.read(s, timeoutMs));
    }
    if (waits.length > 0) await within(Promise.all(waits), timeoutMs + 50, 'INFO memory').catch(() => undefined);
    // Switched off (or closed) meanwhile: leave the gauges empty.
    if (generation === this.generation && this.settings.enabled) this.publish();
  }

  private read(s: Server, timeoutMs: number): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        s.probe ??= s.via!.openProbe();
        const text = await within(s.probe.info(), timeoutMs, `Redis ${s.label}`);
        const reading = parseInfoMemory(s.label, text);
        if (reading === undefined) {
          logOnce(`redis:info-format:${s.label}`, 'warn', `INFO memory from Redis ${s.label} has no used_memory; cache_size_bytes and redis_memory_usage_ratio are not reported for it`);
          return;
        }
        s.reading = reading;
      } catch (err) {
        logOnce(
          `redis:info:${s.label}`,
          'warn',
          `could not read INFO memory from Redis ${s.label} (${describe(err)}); cache_size_bytes and redis_memory_usage_ratio keep its last reading, and vigil tries again`,
        );
        // A connection that did not answer is not used again: the next round opens a new one.
        safe(() => s.probe?.close(), undefined);
        s.probe = undefined;
      }
    };
    const p = run().finally(() => {
      s.inflight = undefined;
    });
    s.inflight = p;
    return p;
  }

  /** Puts the readings of the servers still connected into the gauges; the others disappear. */
  private publish(): void {
    const { size, ratio } = this.gauges;
    size.clear();
    ratio.clear();
    const labels = this.scratch;
    for (const s of this.servers.values()) {
      const r = s.reading;
      if (r === undefined) continue;
      labels[0] = r.server;
      size.get(labels).set(r.usedBytes);
      if (r.ratio !== undefined) ratio.get(labels).set(r.ratio);
    }
  }

  /** Stops reading, closes every dedicated connection and removes every reading (the connections stay remembered). */
  close(): void {
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of this.servers.values()) safe(() => s.probe?.close(), undefined);
    this.servers.clear();
    this.publish();
  }
}
