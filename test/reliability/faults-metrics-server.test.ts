// vigil's metrics endpoint cannot be had or cannot collect (issue 9): the app serves, vigil
// says so once, and what still can work does. (The plain busy-port case is in
// packages/node/test/preload.test.ts; these are the cases it does not cover.)
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { freePort, request, scrape, startApp, waitFor, type RunningApp } from '@vigil/testing';
import type { OtlpReceiver } from '../../packages/node/test/otlp-receiver';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const { startOtlpReceiver } = require(join(REPO_ROOT, 'packages/node/build/test/otlp-receiver')) as typeof import('../../packages/node/test/otlp-receiver');
const FIXTURES = join(REPO_ROOT, 'test', 'reliability', 'fixtures');
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;

describe('reliability: the metrics endpoint failing', function () {
  this.timeout(30_000);
  const apps: RunningApp[] = [];
  const closers: Array<() => Promise<void>> = [];
  afterEach(async function () {
    await Promise.all(apps.splice(0).map((a) => a.stop('SIGKILL')));
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  it('port taken with OTLP push on too: one line, the app serves, and the push carries on', async function () {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    closers.push(() => new Promise((r) => blocker.close(() => r())));
    const receiver: OtlpReceiver = await startOtlpReceiver();
    closers.push(() => receiver.close());
    const app = await startApp({
      script: join(FIXTURES, 'stats-app.js'),
      env: { OTEL_EXPORTER_PROMETHEUS_PORT: String(port), OTEL_METRICS_EXPORTER: 'prometheus,otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '1000' },
    });
    // (a push may take up to 90% of the interval: at 1 s a busy CI machine does not make a slow export a failure line)
    apps.push(app);
    for (let i = 0; i < 5; i++) expect((await request(app.port, `/orders/${i}`)).status).to.equal(200);
    await waitFor(() => receiver.points.some((p) => p.metric === 'http_requests_total' && p.value === 5), 10_000);
    await new Promise((r) => setTimeout(r, 2500)); // more pushes: still one line
    expect(count(app.stderr(), /cannot serve \/metrics/g), app.stderr()).to.equal(1);
    expect(app.stderr()).to.match(/the port is in use/);
    expect(app.stderr().split('\n').filter((l) => l.startsWith('[vigil]')), app.stderr()).to.have.length(1);
  });

  it('a metrics host that is not this machine\'s: one line, the app serves', async function () {
    const app = await startApp({ script: join(FIXTURES, 'stats-app.js'), env: { OTEL_EXPORTER_PROMETHEUS_HOST: '192.0.2.1' } }); // TEST-NET-1
    apps.push(app);
    expect((await request(app.port, '/orders/1')).status).to.equal(200);
    await waitFor(() => app.stderr().includes('cannot serve /metrics'), 5_000);
    expect(count(app.stderr(), /\[vigil\] error: cannot serve \/metrics on 192\.0\.2\.1:\d+ \(listen EADDRNOTAVAIL/g), app.stderr()).to.equal(1);
    expect((await request(app.port, '/orders/2')).status).to.equal(200);
  });

  it('a metric callback of the app that throws on every collection: /metrics answers with everything else, said once', async function () {
    const app = await startApp({ script: join(FIXTURES, 'throwing-callback-app.js') });
    apps.push(app);
    expect((await request(app.port, '/orders/1')).status).to.equal(200);
    for (let i = 0; i < 10; i++) {
      const text = await scrape(app.metricsPort);
      expect(text).to.match(/^http_requests_total\{/m);
      expect(text).not.to.include('app_queue_depth');
    }
    expect(count(app.stderr(), /\[vigil\] warn: metric collection: Error: queue client not connected/g), app.stderr()).to.equal(1);
    expect((await request(app.port, '/orders/2')).status).to.equal(200);
  });
});
