// A Redis that only speaks TLS (a redis-server started here with a self-signed
// certificate made by openssl): vigil's INFO connection uses the application client's
// TLS options, so the server's memory is reported, and commands are counted as usual.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort, inProcessMetrics, samplesOf, startRedisServer, waitFor, type InProcessMetrics } from '@vigil/testing';
import type * as IoRedisModule from 'ioredis';
import type * as NodeRedisModule from 'redis';
import { RedisInstrumentation } from '../src';
import { counts, delta, freshRequire } from './helpers';

describe('@vigil/instrumentation-redis: a Redis server behind TLS', function () {
  this.timeout(60_000);
  let dir: string;
  let server: ChildProcess | undefined;
  let port: number;
  let ca: Buffer;
  let inst: RedisInstrumentation;
  let metrics: InProcessMetrics;
  let io: typeof IoRedisModule;
  let nr: typeof NodeRedisModule;

  before(async function () {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil-redis-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`cannot make a certificate for the TLS test (the Debian package openssl provides openssl): ${(err as Error).message}`);
    }
    ca = readFileSync(path.join(dir, 'cert.pem'));
    port = await freePort();
    server = await startRedisServer(
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', path.join(dir, 'cert.pem'), '--tls-key-file', path.join(dir, 'key.pem'), '--tls-ca-cert-file', path.join(dir, 'cert.pem'), '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir],
      10_000,
    );
    inst = new RedisInstrumentation({ memoryRefreshIntervalMs: 100 });
    metrics = inProcessMetrics([inst]);
    io = freshRequire<typeof IoRedisModule>('ioredis');
    nr = freshRequire<typeof NodeRedisModule>('redis');
  });

  after(async function () {
    await metrics?.shutdown();
    if (server && server.exitCode === null && server.signalCode === null) {
      await new Promise((resolve) => {
        server!.once('exit', resolve);
        server!.kill('SIGKILL');
      });
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const client of ['ioredis', 'node-redis'] as const) {
    it(`reports the memory of the TLS server and counts the commands (${client})`, async function () {
      let get: (key: string) => Promise<unknown>;
      let close: () => Promise<unknown>;
      if (client === 'ioredis') {
        const r = new io.Redis({ host: '127.0.0.1', port, tls: { ca, servername: 'localhost' } });
        get = (k) => r.get(k);
        close = () => r.quit();
      } else {
        const c = await nr.createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, servername: 'localhost' } }).connect();
        get = (k) => c.get(k);
        close = () => c.quit();
      }
      try {
        const before = await metrics.scrape();
        expect(await get('vigil:test:tls:none')).to.equal(null);
        expect(counts(delta(before, await metrics.scrape()))).to.deep.equal({ 'get/miss': 1 });
        const label = `127.0.0.1:${port}`;
        const text = await waitFor(async () => {
          const t = await metrics.scrape();
          return samplesOf(t, 'cache_size_bytes', { server: label }).length === 1 ? t : undefined;
        });
        expect(samplesOf(text, 'redis_memory_usage_ratio', { server: label })).to.have.length(1);
      } finally {
        await close();
      }
    });
  }
});
