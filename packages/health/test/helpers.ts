import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Listens on an ephemeral port of 127.0.0.1 and resolves with it. */
export function listen(server: Server | NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export function close(server: Server | NetServer): Promise<void> {
  return new Promise((resolve) => {
    (server as Server).closeAllConnections?.();
    server.close(() => resolve());
  });
}

export async function httpServer(listener: RequestListener): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const server = createHttpServer(listener);
  const port = await listen(server);
  return { port, server, close: () => close(server) };
}

/** A TCP server that accepts connections and never answers: a hung database or Redis. */
export async function blackHole(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let total = 0;
  const server = createNetServer((s) => {
    total++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  const port = await listen(server);
  return {
    port,
    connections: () => total,
    close: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}

/** A port nothing listens on (bound and released a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await close(server);
  return port;
}

/** Collects what vigil writes on stderr while fn runs. */
export async function captureStderr<T>(fn: () => Promise<T> | T): Promise<{ result: T; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  (process.stderr as { write: unknown }).write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
  };
  try {
    const result = await fn();
    return { result, stderr };
  } finally {
    (process.stderr as { write: unknown }).write = original;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sets environment variables for the duration of fn. */
export async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T> | T): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
