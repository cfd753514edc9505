import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { parseMetrics, type Sample } from '@vigil/testing';

const CLIENT_PACKAGES = ['ioredis', 'redis', '@redis/client', '@redis/bloom', '@redis/json', '@redis/search', '@redis/time-series'];

/**
 * Where the client libraries are loaded from: the repository's, or another installation's
 * (VIGIL_TEST_REDIS_CLIENTS=/some/dir with ioredis and redis in /some/dir/node_modules) to run
 * the same tests against other versions.
 */
const CLIENTS_FROM = process.env.VIGIL_TEST_REDIS_CLIENTS ? [process.env.VIGIL_TEST_REDIS_CLIENTS] : [__dirname];

/**
 * Requires a client library afresh, so that the instrumentation's require hook patches this
 * copy even when another test file loaded the library earlier in the same mocha process.
 */
export function freshRequire<T>(name: string): T {
  const dirs: string[] = [];
  for (const p of CLIENT_PACKAGES) {
    try {
      dirs.push(path.dirname(require.resolve(`${p}/package.json`, { paths: CLIENTS_FROM })) + path.sep);
    } catch {
      // not installed there
    }
  }
  for (const key of Object.keys(require.cache)) {
    if (dirs.some((d) => key.startsWith(d))) delete require.cache[key];
  }
  return require(require.resolve(name, { paths: CLIENTS_FROM })) as T;
}

/** cache_operations_total as `operation/result` -> value, and the duration histogram's counts as `operation/count`. */
export function cacheCounts(text: string | Sample[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of typeof text === 'string' ? parseMetrics(text) : text) {
    if (s.name === 'cache_operations_total') out.set(`${s.labels.operation}/${s.labels.result}`, s.value);
    if (s.name === 'cache_operation_duration_seconds_count') out.set(`${s.labels.operation}/count`, s.value);
  }
  return out;
}

/** The series that changed between two scrapes, and by how much. */
export function delta(before: string, after: string): Record<string, number> {
  const a = cacheCounts(before);
  const b = cacheCounts(after);
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const d = v - (a.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Only the cache_operations_total entries of a delta (no histogram counts). */
export function counts(d: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(d).filter(([k]) => !k.endsWith('/count')));
}

/**
 * A TCP proxy in front of a server that can be frozen: while frozen it accepts connections
 * and reads what clients send but forwards nothing either way — a server that stops answering.
 */
export interface FreezableProxy {
  port: number;
  /** Every connection accepted: whether it is still open, and the start of what the client sent. */
  connections(): Array<{ open: boolean; sent: string }>;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function freezableProxy(targetHost: string, targetPort: number): Promise<FreezableProxy> {
  let frozen = false;
  const pairs = new Set<{ client: Socket; upstream: Socket; held: Buffer[]; heldBack: Buffer[] }>();
  const seen: Array<{ open: boolean; sent: string }> = [];
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair = { client, upstream, held: [] as Buffer[], heldBack: [] as Buffer[] };
    const record = { open: true, sent: '' };
    seen.push(record);
    pairs.add(pair);
    client.on('data', (d: Buffer) => {
      if (record.sent.length < 4096) record.sent += d.toString('latin1').slice(0, 4096 - record.sent.length);
      if (frozen) pair.held.push(d);
      else upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => (frozen ? pair.heldBack.push(d) : client.write(d)));
    const end = () => {
      record.open = false;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections: () => seen.map((r) => ({ ...r })),
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const p of pairs) {
        for (const d of p.held.splice(0)) p.upstream.write(d);
        for (const d of p.heldBack.splice(0)) p.client.write(d);
      }
    },
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A key prefix no other test uses. */
export function uniquePrefix(name: string): string {
  return `vigil:test:redis:${name}:${process.pid}:${Date.now().toString(36)}:`;
}
