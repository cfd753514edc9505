// vigil's own small HTTP server for /metrics: the exporter's collection and
// serializer, plus what a production scrape endpoint needs (gzip, auth,
// GET/HEAD only, tight timeouts, never keeping the process alive).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { log, logOnce } from '@vigil/catalog';
import type { MetricsServerRoute } from './types';

/** Marks servers whose requests the HTTP instrumentation must not count. */
export const INTERNAL_SERVER = Symbol.for('vigil.internal-server');

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsServerOptions {
  host: string;
  port: number;
  bearerToken?: string;
  basicAuth?: string;
  /** Renders the exposition text. */
  collect: () => Promise<string>;
  routes?: Record<string, MetricsServerRoute>;
  /** Answers the health paths it knows (true), or calls next. */
  health?: (req: IncomingMessage, res: ServerResponse, next: () => void) => boolean;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

// Compares fixed-length digests so the time taken says nothing about the secret.
function sameSecret(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

export class MetricsServer {
  private server: Server | undefined;
  private inFlight: Promise<string> | undefined;
  private readonly bearer: Buffer | undefined;
  private readonly basic: Buffer | undefined;

  constructor(private readonly options: MetricsServerOptions) {
    this.bearer = options.bearerToken ? digest(options.bearerToken) : undefined;
    this.basic = options.basicAuth ? digest(options.basicAuth) : undefined;
  }

  /** Listens; resolves with the port, or undefined when it cannot (logged once, the app goes on). */
  listen(): Promise<number | undefined> {
    const { host, port } = this.options;
    const server = createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) =>
      this.handle(req, res),
    );
    (server as unknown as Record<symbol, boolean>)[INTERNAL_SERVER] = true;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = 64;
    this.server = server;
    return new Promise((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const advice =
          err.code === 'EADDRNOTAVAIL'
            ? 'Set OTEL_EXPORTER_PROMETHEUS_HOST to an address of this machine.'
            : 'Set OTEL_EXPORTER_PROMETHEUS_PORT to a free port (one per process: docs/deployment.md).';
        const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
        log('error', `cannot serve /metrics on ${host}:${port} (${why}); the application goes on without the Prometheus endpoint. ${advice}`);
        this.server = undefined;
        resolve(undefined);
      });
      // exclusive: cluster workers must not silently share one port (each would answer for itself).
      server.listen({ host, port, exclusive: true }, () => {
        server.on('error', (err) => logOnce(`metrics-server:${err.message}`, 'warn', `metrics server: ${err.message}`));
        server.unref(); // the metrics endpoint never keeps a finished app alive
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('Method Not Allowed\n');
        return;
      }
      if (path === '/metrics') {
        if (!this.authorized(req)) {
          res.writeHead(401, { 'WWW-Authenticate': this.basic ? 'Basic realm="metrics"' : 'Bearer', 'Content-Type': 'text/plain' });
          res.end('Unauthorized\n');
          return;
        }
        this.serveMetrics(req, res);
        return;
      }
      const notFound = () => res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found\n');
      const route = path ? this.options.routes?.[path] : undefined;
      if (route) route(req, res);
      else if (this.options.health) this.options.health(req, res, notFound);
      else notFound();
    } catch (err) {
      logOnce('metrics-server:handler', 'error', `metrics server failed a request: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.bearer && !this.basic) return true;
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (this.bearer && scheme === 'bearer') return sameSecret(value, this.bearer);
    if (this.basic && scheme === 'basic') return sameSecret(Buffer.from(value, 'base64').toString('utf8'), this.basic);
    // Still spend a comparison so a missing header answers in the same time as a wrong one.
    sameSecret(value, this.bearer ?? this.basic!);
    return false;
  }

  private serveMetrics(req: IncomingMessage, res: ServerResponse): void {
    // Concurrent scrapes share one collection.
    const text = (this.inFlight ??= this.options.collect().finally(() => (this.inFlight = undefined)));
    text.then(
      (body) => {
        const gzipOk = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
        if (!gzipOk) {
          res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
          return;
        }
        // Level 1: exposition text still shrinks ~10x, in a fraction of the default level's time.
        // node:zlib loads at the first compressed scrape, not at start-up.
        const { constants: zlib, gzip } = require('node:zlib') as typeof import('node:zlib');
        gzip(body, { level: zlib.Z_BEST_SPEED }, (err, zipped) => {
          if (err) {
            res.writeHead(500).end();
            return;
          }
          res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Content-Encoding': 'gzip', 'Content-Length': zipped.length, Vary: 'Accept-Encoding' });
          res.end(req.method === 'HEAD' ? undefined : zipped);
        });
      },
      (err: Error) => {
        logOnce(`collect:${err.message}`, 'error', `collecting metrics failed: ${err.message}`);
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('# collection failed\n');
      },
    );
  }
}
