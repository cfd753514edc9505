// What a user sees: apps with no vigil code, started with `node --require` or
// `node --import @vigil/node/register`, scraped on vigil's metrics port.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MAX_POINTS_PER_REQUEST } from '../src/chunked-exporter';
import { startOtlpGrpcReceiver, startOtlpReceiver } from './otlp-receiver';
import { freePort, parseMetrics, request, sampleValue, scrape, startApp, waitFor, type RunningApp } from '@vigil/testing';

const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures');
const fixture = (name: string) => join(FIXTURES, name);

async function hit(app: RunningApp, path: string, times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await request(app.port, path);
}

describe('preloaded apps (node --require / --import @vigil/node/register)', function () {
  const apps: RunningApp[] = [];
  const launch = async (...args: Parameters<typeof startApp>) => {
    const app = await startApp(...args);
    apps.push(app);
    return app;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.stop('SIGKILL')));
  });

  it('plain node:http under --require: the documented HTTP lines, exactly', async () => {
    const app = await launch({ script: fixture('plain.js') });
    await hit(app, '/users/42', 3);
    await hit(app, '/users/7');
    await hit(app, '/fail');
    const text = await scrape(app.metricsPort);
    const get = (labels: Record<string, string>) => sampleValue(text, 'http_requests_total', labels);
    expect(get({ method: 'GET', endpoint: '/users/:id', status_code: '200', user_role: 'anonymous' })).to.equal(4);
    expect(get({ method: 'GET', endpoint: '/fail', status_code: '500', user_role: 'anonymous' })).to.equal(1);
    expect(sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', endpoint: '/users/:id' })).to.equal(4);
    expect(sampleValue(text, 'http_request_duration_seconds_bucket', { method: 'GET', endpoint: '/users/:id', le: '+Inf' })).to.equal(4);
    expect(sampleValue(text, 'http_request_duration_seconds_bucket', { method: 'GET', endpoint: '/users/:id', le: '10' })).to.equal(4);
    expect(sampleValue(text, 'http_concurrent_connections')).to.equal(0);
    expect(text).to.include('# TYPE http_requests_total counter');
    expect(text).to.include('# TYPE http_request_duration_seconds histogram');
    expect(text).to.not.match(/otel_scope_|target_info|_total_total/);
    // The scrape itself is not an application request.
    expect(text).to.not.include('endpoint="/metrics"');
  });

  it('Node runtime metrics are on by default, and switchable off', async () => {
    const on = await launch({ script: fixture('plain.js') });
    const text = await scrape(on.metricsPort);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'process_start_time_seconds']) {
      expect(sampleValue(text, name), name).to.be.greaterThan(0);
    }
    await waitFor(async () => sampleValue(await scrape(on.metricsPort), 'nodejs_eventloop_lag_p99_seconds') !== undefined);
    const off = await launch({ script: fixture('plain.js'), env: { VIGIL_RUNTIME_METRICS: 'false' } });
    expect(await scrape(off.metricsPort)).to.not.include('process_cpu_seconds_total');
  });

  for (const [name, script, preload, endpoint] of [
    ['Express 5 (--require, nested routers)', 'express.cjs', 'require', '/api/v1/users/:id'],
    ['Express 5 (--import, ESM)', 'express.mjs', 'import', '/api/v1/users/:id'],
    // An ESM entry under --require: vigil sees the app is ESM and registers the loader hook.
    ['Express 5 (--require, ESM entry)', 'express.mjs', 'require', '/api/v1/users/:id'],
    ['Koa + @koa/router (--require, ESM entry)', 'koa.mjs', 'require', '/users/:id'],
    ['Fastify (--import, ESM)', 'fastify.mjs', 'import', '/users/:id'],
    ['Koa + @koa/router (--import, ESM)', 'koa.mjs', 'import', '/users/:id'],
    ['plain node:http (--import, ESM)', 'plain.mjs', 'import', '/users/:id'],
  ] as const) {
    it(`${name}: the route template is the endpoint`, async () => {
      const app = await launch({ script: fixture(script), preload });
      const path = endpoint.startsWith('/api') ? '/api/v1/users/' : '/users/';
      await hit(app, path + '1', 2);
      await hit(app, path + '2');
      const text = await scrape(app.metricsPort);
      expect(sampleValue(text, 'http_requests_total', { method: 'GET', endpoint, status_code: '200', user_role: 'anonymous' }), text).to.equal(3);
      expect(sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', endpoint })).to.equal(3);
    });
  }

  it('ESM hooks run in the app\'s thread, also beside another loader; VIGIL_ESM_HOOKS=loader-thread moves them to a thread of their own, and a bad value is named', async () => {
    const threads = (app: RunningApp) => readdirSync(`/proc/${app.child.pid}/task`).length;
    const counted = async (env: Record<string, string>, nodeArgs: string[] = []) => {
      const app = await launch({ script: fixture('express.mjs'), preload: 'import', env, nodeArgs });
      await hit(app, '/api/v1/users/1', 2);
      const text = await scrape(app.metricsPort);
      expect(sampleValue(text, 'http_requests_total', { method: 'GET', endpoint: '/api/v1/users/:id', status_code: '200', user_role: 'anonymous' }), text).to.equal(2);
      return app;
    };
    const inThread = await counted({});
    const loaderThread = await counted({ VIGIL_ESM_HOOKS: 'loader-thread' });
    const bad = await counted({ VIGIL_ESM_HOOKS: 'elsewhere' });
    await counted({}, ['--import', fixture('other-esm-loader.mjs')]);
    // Without require(esm) the in-thread hooks cannot load: the loader thread takes over, silently.
    const noRequireEsm = await counted({}, ['--no-experimental-require-module']);
    expect(threads(loaderThread)).to.be.greaterThan(threads(inThread));
    expect(threads(noRequireEsm)).to.be.greaterThan(threads(inThread));
    expect(noRequireEsm.stderr()).to.equal('');
    expect(threads(bad)).to.be.lessThan(threads(loaderThread));
    expect(bad.stderr()).to.include('VIGIL_ESM_HOOKS="elsewhere" is not one of in-thread, loader-thread; using "in-thread"');
    expect(inThread.stderr() + loaderThread.stderr()).to.equal('');
  });

  for (const preload of ['require', 'import'] as const) {
    it(`an ESM app importing ioredis and redis (--${preload}): both clients' reads are counted`, async () => {
      const app = await launch({ script: fixture('cache.mjs'), preload });
      await hit(app, '/', 3);
      const text = await scrape(app.metricsPort);
      // Each request misses once per client: 2 x 3, whichever client the ESM loader handed over.
      expect(sampleValue(text, 'cache_operations_total', { operation: 'get', result: 'miss' }), text).to.equal(6);
    });
  }

  it('Express 4 (--require, nested routers): the route template is the endpoint', async () => {
    // Express 4 is installed as the npm alias express4; an app sees it as `express`
    // through a symlinked node_modules, as it would after `npm install express@4`.
    const dir = join(process.cwd(), '.vigil-tmp', 'express4-app');
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    rmSync(join(dir, 'node_modules', 'express'), { force: true });
    symlinkSync(join(process.cwd(), 'node_modules', 'express4'), join(dir, 'node_modules', 'express'));
    copyFileSync(fixture('express.cjs'), join(dir, 'app.cjs'));
    const app = await launch({ script: join(dir, 'app.cjs'), nodeArgs: ['--preserve-symlinks'] });
    await hit(app, '/api/v1/users/1', 2);
    const text = await scrape(app.metricsPort);
    expect(sampleValue(text, 'http_requests_total', { method: 'GET', endpoint: '/api/v1/users/:id', status_code: '200', user_role: 'anonymous' }), text).to.equal(2);
    const version = spawnSync(process.execPath, ['--preserve-symlinks', '-p', "require('express/package.json').version"], { cwd: dir, encoding: 'utf8' });
    expect(version.stdout.trim()).to.match(/^4\./);
  });

  it('promtool check metrics finds no problem in the exposition', async () => {
    const app = await launch({ script: fixture('express.cjs') });
    await hit(app, '/api/v1/users/1');
    await hit(app, '/nothing-here');
    const text = await scrape(app.metricsPort);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.error, 'promtool must be installed (npm test installs it)').to.equal(undefined);
    expect(`${r.stdout}${r.stderr}`.trim()).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('serves gzip when asked, HEAD, and refuses other methods and paths', async () => {
    const app = await launch({ script: fixture('plain.js') });
    const zipped = await request(app.metricsPort, '/metrics', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(zipped.headers['content-encoding']).to.equal('gzip');
    expect(gunzipSync(zipped.body).toString()).to.include('http_concurrent_connections 0');
    expect(zipped.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const head = await request(app.metricsPort, '/metrics', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.body.length).to.equal(0);
    expect((await request(app.metricsPort, '/metrics', { method: 'POST' })).status).to.equal(405);
    expect((await request(app.metricsPort, '/other')).status).to.equal(404);
  });

  it('serves /health on the metrics server, without the /metrics credentials', async () => {
    const app = await launch({ script: fixture('plain.js'), env: { VIGIL_METRICS_BEARER_TOKEN: 's3cret' } });
    const ready = await request(app.metricsPort, '/health');
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.text)).to.include({ status: 'healthy' });
    expect((await request(app.metricsPort, '/health/live')).status).to.equal(200);
    const off = await launch({ script: fixture('plain.js'), env: { VIGIL_HEALTH_ENDPOINT: 'false' } });
    expect((await request(off.metricsPort, '/health')).status).to.equal(404);
  });

  it('requires the configured bearer token or basic credentials on /metrics', async () => {
    const bearer = await launch({ script: fixture('plain.js'), env: { VIGIL_METRICS_BEARER_TOKEN: 's3cret' } });
    expect((await request(bearer.metricsPort, '/metrics')).status).to.equal(401);
    expect((await request(bearer.metricsPort, '/metrics', { headers: { Authorization: 'Bearer wrong' } })).status).to.equal(401);
    expect((await request(bearer.metricsPort, '/metrics', { headers: { Authorization: 'Bearer s3cret' } })).status).to.equal(200);

    const basic = await launch({ script: fixture('plain.js'), env: { VIGIL_METRICS_BASIC_AUTH: 'prom:pa:ss' } });
    const auth = (cred: string) => ({ Authorization: `Basic ${Buffer.from(cred).toString('base64')}` });
    const denied = await request(basic.metricsPort, '/metrics', { headers: auth('prom:nope') });
    expect(denied.status).to.equal(401);
    expect(denied.headers['www-authenticate']).to.equal('Basic realm="metrics"');
    expect((await request(basic.metricsPort, '/metrics', { headers: auth('prom:pa:ss') })).status).to.equal(200);
  });

  it('OTEL_SDK_DISABLED=true: no port is opened and the app serves', async () => {
    const app = await launch({ script: fixture('plain.js'), env: { OTEL_SDK_DISABLED: 'true' } });
    expect((await request(app.port, '/users/1')).status).to.equal(200);
    const refused = await request(app.metricsPort, '/metrics').then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
    expect(refused).to.equal(true);
  });

  it('a busy metrics port: one clear line, and the app serves', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    try {
      const app = await launch({ script: fixture('plain.js'), env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(port) } });
      expect((await request(app.port, '/users/1')).status).to.equal(200);
      await waitFor(() => app.stderr().includes('port is in use'));
      expect(app.stderr().match(/\[vigil\] error: cannot serve \/metrics on 127\.0\.0\.1:\d+ \(the port is in use\)/g)).to.have.length(1);
    } finally {
      blocker.close();
    }
  });

  it('bad settings: each named once with what vigil does instead, and the app serves', async () => {
    const app = await launch({
      script: fixture('plain.js'),
      env: {
        OTEL_METRICS_EXPORTER: 'prometheus,bogus',
        OTEL_METRIC_EXPORT_INTERVAL: 'soon',
        VIGIL_METRIC_CARDINALITY_LIMIT: '-5',
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'carrier-pigeon',
        OTEL_TRACES_EXPORTER: 'smoke-signals',
      },
    });
    expect((await request(app.port, '/users/1')).status).to.equal(200);
    expect((await scrape(app.metricsPort))).to.include('http_requests_total');
    const err = app.stderr();
    expect(err).to.include('OTEL_METRICS_EXPORTER: unknown exporter "bogus"');
    expect(err).to.include('OTEL_METRIC_EXPORT_INTERVAL="soon" is not a whole number >= 100 <= 86400000; using 60000');
    expect(err).to.include('VIGIL_METRIC_CARDINALITY_LIMIT="-5" is not a whole number >= 1 <= 1000000; using 2000');
    expect(err).to.include('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="carrier-pigeon" is not one of http/protobuf, http/json, grpc; using "http/protobuf"');
    expect(err).to.include('OTEL_TRACES_EXPORTER="smoke-signals" is not one of none, otlp, console, zipkin; using "none"');
  });

  it('a malformed port number falls back to the default port', () => {
    const r = spawnSync(process.execPath, ['-e', "console.log(JSON.stringify(require('@vigil/node').resolveConfig().prometheus))"], {
      env: { ...process.env, OTEL_EXPORTER_PROMETHEUS_PORT: '99999x' },
      encoding: 'utf8',
    });
    expect(JSON.parse(r.stdout)).to.deep.include({ host: '127.0.0.1', port: 9464 });
    expect(r.stderr).to.include('OTEL_EXPORTER_PROMETHEUS_PORT="99999x" is not a whole number >= 0 <= 65535; using 9464');
  });

  it('SIGTERM without an app handler: vigil flushes, then the process ends by the signal as it would without vigil', async () => {
    
    const receiver = await startOtlpReceiver();
    try {
      const app = await launch({
        script: fixture('sigterm-app.js'),
        env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '600000' },
      });
      await hit(app, '/users/5', 2);
      expect(receiver.pushes).to.equal(0);
      const exit = await app.stop('SIGTERM');
      expect(exit).to.equal('SIGTERM');
      const point = receiver.points.find((p) => p.metric === 'http_requests_total');
      expect(point?.value).to.equal(2);
    } finally {
      await receiver.close();
    }
  });

  it('OTEL_TRACES_EXPORTER=console: upstream OpenTelemetry instrumentations trace, and the metrics still count', async () => {
    const app = await launch({ script: fixture('plain.js'), env: { OTEL_TRACES_EXPORTER: 'console' } });
    await hit(app, '/users/9', 2);
    const text = await scrape(app.metricsPort);
    expect(sampleValue(text, 'http_requests_total', { method: 'GET', endpoint: '/users/:id', status_code: '200', user_role: 'anonymous' })).to.equal(2);
    await app.stop('SIGTERM'); // the batch span processor flushes on shutdown
    const spans = app.stdout().match(/traceId: '[0-9a-f]{32}'/g) ?? [];
    expect(spans.length, app.stdout().slice(0, 2000)).to.be.at.least(2);
    expect(app.stdout()).to.include("name: '@opentelemetry/instrumentation-http'");
  });

  it('SIGTERM with an app handler: the app decides when and how it exits', async () => {
    const app = await launch({ script: fixture('own-handler-app.js') });
    expect(await app.stop('SIGTERM')).to.equal(7);
    expect(app.stdout()).to.include('APP SIGTERM');
  });

  it('an unreachable OTLP endpoint: one line while failing, and the app serves', async () => {
    const dead = await freePort();
    const app = await launch({
      script: fixture('plain.js'),
      env: {
        OTEL_METRICS_EXPORTER: 'otlp,prometheus',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${dead}/v1/metrics`,
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_METRIC_EXPORT_TIMEOUT: '200',
      },
    });
    await waitFor(() => app.stderr().includes('export failing'), 10_000);
    await new Promise((r) => setTimeout(r, 1500)); // several more failed exports
    expect((await request(app.port, '/users/1')).status).to.equal(200);
    expect(app.stderr().match(/export failing/g)).to.have.length(1);
  });
});

describe('the OTLP path', () => {
  it('OTEL_EXPORTER_OTLP_(METRICS_)TIMEOUT bounds each request to a hanging collector', async () => {
    const receiver = await startOtlpReceiver();
    receiver.hang = true;
    const app = await startApp({
      script: fixture('plain.js'),
      env: {
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
        OTEL_METRIC_EXPORT_INTERVAL: '4000',
        OTEL_METRIC_EXPORT_TIMEOUT: '4000', // alone, a push would be given up on after 3.6 s
        OTEL_EXPORTER_OTLP_TIMEOUT: '60000',
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '200', // the metrics-specific setting wins
      },
    });
    try {
      await waitFor(() => receiver.requests >= 1, 15_000);
      const pushed = Date.now();
      await waitFor(() => app.stderr().includes('export failing'), 15_000);
      // A bound, not a speed target: 200 ms plus the test's own polling, far from 3.6 s.
      expect(Date.now() - pushed, 'ms from the push to its failure').to.be.below(2000);
      expect((await request(app.port, '/users/1')).status).to.equal(200);
    } finally {
      await app.stop('SIGKILL');
      await receiver.close();
    }
  });

  it('the OTLP request timeout: metrics-specific first, then the general one, 10 s by default, a bad value named', () => {
    const otlpOf = (env: Record<string, string>) => {
      const r = spawnSync(process.execPath, ['-e', "console.log(JSON.stringify(require('@vigil/node').resolveConfig().otlp))"], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      return { otlp: JSON.parse(r.stdout) as { requestTimeoutMs: number }, stderr: r.stderr };
    };
    expect(otlpOf({}).otlp.requestTimeoutMs).to.equal(10_000);
    expect(otlpOf({ OTEL_EXPORTER_OTLP_TIMEOUT: '700' }).otlp.requestTimeoutMs).to.equal(700);
    expect(otlpOf({ OTEL_EXPORTER_OTLP_TIMEOUT: '700', OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '900' }).otlp.requestTimeoutMs).to.equal(900);
    const bad = otlpOf({ OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: 'soon' });
    expect(bad.otlp.requestTimeoutMs).to.equal(10_000);
    expect(bad.stderr).to.include('OTEL_EXPORTER_OTLP_METRICS_TIMEOUT="soon"');
  });

  for (const [protocol, start, contentType] of [
    ['http/json', startOtlpReceiver, 'application/json'],
    ['grpc', startOtlpGrpcReceiver, 'application/grpc'],
  ] as const) {
    it(`${protocol} carries the same names and labels`, async () => {
      const receiver = await start();
      const app = await startApp({
        script: fixture('plain.js'),
        env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '300' },
      });
      try {
        await request(app.port, '/users/3');
        const point = await waitFor(() => receiver.points.find((p) => p.metric === 'http_requests_total' && p.value === 1), 10_000);
        expect(point.attributes).to.deep.equal({ method: 'GET', endpoint: '/users/:id', status_code: '200', user_role: 'anonymous' });
        expect(receiver.contentTypes[0]).to.equal(contentType);
      } finally {
        await app.stop('SIGKILL');
        await receiver.close();
      }
    });
  }

  it(`a large export goes out as requests of at most ${MAX_POINTS_PER_REQUEST} data points that together carry every series`, async () => {
    const receiver = await startOtlpReceiver();
    const app = await startApp({
      script: fixture('plain.js'),
      env: { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '500' },
    });
    try {
      // 1,200 endpoints: a counter and a histogram series each, 2,400 data points and the runtime metrics'.
      const endpoints = Array.from({ length: 1200 }, (_, i) => `/items-${i.toString(26).replace(/\d/g, (d) => 'qrstuvwxyz'[Number(d)]!)}/list`);
      for (const path of endpoints) await request(app.port, path);
      const pushed = (p: { metric: string; attributes: Record<string, string> }) => p.metric === 'http_requests_total' && p.attributes.status_code === '404';
      await waitFor(() => new Set(receiver.points.filter(pushed).map((p) => p.attributes.endpoint)).size === endpoints.length, 15_000);
      expect(new Set(receiver.points.filter(pushed).map((p) => p.attributes.endpoint))).to.deep.equal(new Set(endpoints));
      expect(Math.max(...receiver.pointsPerPush)).to.equal(MAX_POINTS_PER_REQUEST);
    } finally {
      await app.stop('SIGKILL');
      await receiver.close();
    }
  });

  it('pushes the same names, label keys and values as the Prometheus endpoint', async () => {
    
    const receiver = await startOtlpReceiver();
    const app = await startApp({
      script: fixture('express.cjs'),
      env: {
        OTEL_METRICS_EXPORTER: 'otlp,prometheus',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url.replace('/v1/metrics', ''),
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        OTEL_SERVICE_NAME: 'otlp-test',
      },
    });
    try {
      await request(app.port, '/api/v1/users/1');
      await request(app.port, '/api/v1/users/2');
      await waitFor(() => receiver.points.some((p) => p.metric === 'http_requests_total' && p.value === 2), 10_000);
      const text = await scrape(app.metricsPort);
      const promSamples = parseMetrics(text).filter((s) => s.name === 'http_requests_total');
      const otlp = receiver.points.filter((p) => p.metric === 'http_requests_total' && p.value === 2);
      expect(otlp[0]!.type).to.equal('sum');
      expect(otlp[0]!.monotonic).to.equal(true);
      expect(promSamples.map((s) => s.labels)).to.deep.include(otlp[0]!.attributes);
      const hist = receiver.points.find((p) => p.metric === 'http_request_duration_seconds' && p.count === 2)!;
      expect(hist.type).to.equal('histogram');
      expect(hist.bounds).to.deep.equal([0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
      expect(hist.attributes).to.deep.equal({ method: 'GET', endpoint: '/api/v1/users/:id' });
      expect(receiver.resource['service.name']).to.equal('otlp-test');
      // Every name pushed is one the Prometheus endpoint shows (runtime metrics included).
      const promNames = new Set(parseMetrics(text).map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
      for (const name of new Set(receiver.points.map((p) => p.metric))) expect(promNames, name).to.include(name);
    } finally {
      await app.stop('SIGKILL');
      await receiver.close();
    }
  });
});
