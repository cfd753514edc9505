// cache_size_bytes{server} and redis_memory_usage_ratio{server}: INFO memory of
// every Redis server the process is connected to.
//
// The client patches hand every application connection to `track()`. At metrics
// collection the live connections are grouped by server (host:port as the
// application configured it, or the socket path); for each server whose reading
// is older than the refresh interval, INFO memory is sent over a dedicated
// connection (a duplicate of one of the application's clients, so it has the same
// credentials, TLS and sentinel settings, named `vigil-info`, never counted in
// cache_operations_total). A dedicated connection is never queued behind the
// application's commands, cannot be caught in its MULTI, its blocking commands or
// its subscriber mode, and does not keep the process alive (its socket is unref'd).
// The collection waits for fresh readings at most `timeoutMs`; after that it
// reports the last reading each server gave, so a Redis that stops answering never
// stalls a scrape. A server none of whose application connections is ready any
// more is dropped, with its dedicated connection.
import { logOnce } from '@vigil/catalog';

/** An application connection, as the memory monitor sees it. */
export interface TrackedClient {
  /** The `server` label (host:port or socket path), or undefined while unknown. */
  server(): string | undefined;
  /** Connected and ready for commands. */
  live(): boolean;
  /** Closed for good (quit, disconnect, garbage-collected). */
  ended(): boolean;
  /** Opens a dedicated connection to the same server, with the same options. */
  openProbe(timeoutMs: number): Probe;
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
  nextRead = 0;
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

const MAX_TRACKED_BEFORE_PRUNE = 1000;

export class MemoryMonitor {
  private readonly clients = new Set<TrackedClient>();
  private readonly servers = new Map<string, Server>();

  constructor(
    private settings: { enabled: boolean; intervalMs: number; timeoutMs: number },
  ) {}

  configure(settings: { enabled: boolean; intervalMs: number; timeoutMs: number }): void {
    this.settings = settings;
    if (!settings.enabled) this.close();
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** Remembers an application connection (held weakly by the adapter). */
  track(client: TrackedClient): void {
    if (!this.settings.enabled) return;
    if (this.clients.size >= MAX_TRACKED_BEFORE_PRUNE) this.prune();
    this.clients.add(client);
  }

  private prune(): void {
    for (const c of this.clients) if (safe(() => c.ended(), true)) this.clients.delete(c);
  }

  /** The memory of every server with a ready application connection; waits at most timeoutMs. */
  async collect(): Promise<MemoryReading[]> {
    if (!this.settings.enabled) return [];
    const { intervalMs, timeoutMs } = this.settings;
    const live = new Map<string, TrackedClient>();
    for (const c of this.clients) {
      if (safe(() => c.ended(), true)) {
        this.clients.delete(c);
        continue;
      }
      if (!safe(() => c.live(), false)) continue;
      const label = safe(() => c.server(), undefined);
      if (label !== undefined && !live.has(label)) live.set(label, c);
    }
    for (const [label, s] of this.servers) {
      if (!live.has(label)) {
        s.probe?.close();
        this.servers.delete(label);
      }
    }
    const now = Date.now();
    const waits: Promise<void>[] = [];
    for (const [label, client] of live) {
      let s = this.servers.get(label);
      if (s === undefined) this.servers.set(label, (s = new Server(label)));
      s.via = client;
      if (s.inflight !== undefined) waits.push(s.inflight);
      else if (now >= s.nextRead) {
        s.nextRead = now + intervalMs;
        waits.push(this.refresh(s, timeoutMs));
      }
    }
    if (waits.length > 0) await within(Promise.all(waits), timeoutMs, 'INFO memory').catch(() => undefined);
    const out: MemoryReading[] = [];
    for (const s of this.servers.values()) if (s.reading !== undefined) out.push(s.reading);
    return out;
  }

  private refresh(s: Server, timeoutMs: number): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        s.probe ??= s.via!.openProbe(timeoutMs);
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
          `could not read INFO memory from Redis ${s.label} (${describe(err)}); cache_size_bytes and redis_memory_usage_ratio keep its last reading, and vigil tries again later`,
        );
        // A connection that did not answer is not used again: the next refresh opens a new one.
        s.probe?.close();
        s.probe = undefined;
      }
    };
    const p = run().finally(() => {
      s.inflight = undefined;
    });
    s.inflight = p;
    return p;
  }

  /** Closes every dedicated connection and forgets every connection and reading. */
  close(): void {
    for (const s of this.servers.values()) s.probe?.close();
    this.servers.clear();
    this.clients.clear();
  }
}

function safe<T, F>(f: () => T, fallback: F): T | F {
  try {
    return f();
  } catch {
    return fallback;
  }
}

/** A short description of an error for a log line (never a key or a value: Redis errors name neither). */
export function describe(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return (typeof m === 'string' ? m : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}
