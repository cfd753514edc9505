// node:cluster workers and pm2-style copies of one app, all preloaded (issue 9): vigil's
// metrics server listens exclusively, so copies never share (and never crash on) one
// port. What each layout gives, as docs/deployment.md describes it: one port for all (the
// first process keeps it; the others serve and say once that they have no endpoint),
// a port per worker, or OTLP push with one service.instance.id per process.
import { expect } from 'chai';
import { join } from 'node:path';
import { freePort, request, sampleValue, scrape, startApp, waitFor, type RunningApp } from '@vigil/testing';
import type { OtlpReceiver } from '../../packages/node/test/otlp-receiver';

const REPO_ROOT = join(__dirname, '..', '..', '..');
const { startOtlpReceiver } = require(join(REPO_ROOT, 'packages/node/build/test/otlp-receiver')) as typeof import('../../packages/node/test/otlp-receiver');
const FIXTURES = join(REPO_ROOT, 'test', 'reliability', 'fixtures');
const CLUSTER_APP = join(FIXTURES, 'cluster-app.js');
const STATS_APP = join(FIXTURES, 'stats-app.js');
const REQUESTS = 60;
const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;
const PORT_TAKEN = /\[vigil\] error: cannot serve \/metrics on 127\.0\.0\.1:\d+ \(the port is in use\)/g;

/** Sends REQUESTS requests; returns how many each worker (by pid) answered. */
async function spread(app: RunningApp): Promise<Map<string, number>> {
  const byPid = new Map<string, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const res = await request(app.port, `/orders/${i}`);
    expect(res.status).to.equal(200);
    byPid.set(res.text, (byPid.get(res.text) ?? 0) + 1);
  }
  return byPid;
}

const requestsIn = (text: string) => sampleValue(text, 'http_requests_total', { method: 'GET', endpoint: '/orders/:id', status_code: '200', user_role: 'anonymous' }) ?? 0;

/** Each pid alive? (signal 0 only asks) */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('reliability: cluster workers and pm2-style copies', function () {
  this.timeout(30_000);
  const apps: RunningApp[] = [];
  let receiver: OtlpReceiver | undefined;
  afterEach(async function () {
    await Promise.all(apps.splice(0).map((a) => a.stop('SIGKILL')));
    await receiver?.close();
    receiver = undefined;
  });
  async function launch(script: string, env: Record<string, string> = {}) {
    const app = await startApp({ script, env });
    apps.push(app);
    return app;
  }

  it('one port for all (what not to do): nothing crashes, both workers serve, the primary keeps the port, each worker says so once', async function () {
    const app = await launch(CLUSTER_APP);
    const byPid = await spread(app);
    expect(byPid.size, 'workers that answered').to.equal(2);
    await waitFor(() => count(app.stderr(), PORT_TAKEN) === 2, 5_000);
    // The endpoint is the primary's: its own runtime metrics, none of the workers' requests.
    const text = await scrape(app.metricsPort);
    expect(text).to.match(/^process_resident_memory_bytes /m);
    expect(requestsIn(text)).to.equal(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(count(app.stderr(), PORT_TAKEN), app.stderr()).to.equal(2);
    // SIGTERM to the primary: it ends by the signal and takes its workers along, as without vigil.
    const workers = [...byPid.keys()].map(Number);
    expect(await app.stop('SIGTERM')).to.equal('SIGTERM');
    await waitFor(() => workers.every((pid) => !alive(pid)), 5_000);
  });

  it('a metrics port per worker: each worker counts its own requests, together all of them, nothing said', async function () {
    const ports = [await freePort(), await freePort()];
    const app = await launch(CLUSTER_APP, { WORKER_METRICS_PORTS: ports.join(',') });
    const byPid = await spread(app);
    expect(byPid.size).to.equal(2);
    const counted = await Promise.all(ports.map(async (p) => requestsIn(await scrape(p))));
    expect(counted.reduce((a, b) => a + b, 0), `per worker: ${counted.join(', ')}`).to.equal(REQUESTS);
    expect([...counted].sort(), 'each worker counts what it answered').to.deep.equal([...byPid.values()].sort());
    expect(app.stderr().split('\n').filter((l) => l.startsWith('[vigil]')), app.stderr()).to.deep.equal([]);
  });

  it('OTLP push: one service.instance.id per process, the workers\' counts add up to every request, no port at all', async function () {
    receiver = await startOtlpReceiver();
    // A push may take up to 90% of the interval: at 1 s a busy CI machine does not make a slow export a failure.
    const app = await launch(CLUSTER_APP, { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '1000' });
    const byPid = await spread(app);
    expect(byPid.size).to.equal(2);
    const perInstance = () => {
      const last = new Map<string, number>();
      for (const p of receiver!.points) if (p.metric === 'http_requests_total') last.set(p.resource['service.instance.id'] ?? '?', Number(p.value));
      return last;
    };
    await waitFor(() => [...perInstance().values()].reduce((a, b) => a + b, 0) === REQUESTS, 10_000);
    expect(perInstance().size, 'instances that counted requests').to.equal(2);
    expect([...perInstance().values()].sort()).to.deep.equal([...byPid.values()].sort());
    const instances = new Set(receiver.points.map((p) => p.resource['service.instance.id']));
    expect(instances.size, 'instances pushing (the primary and two workers)').to.equal(3);
    expect((await request(app.metricsPort, '/metrics').catch((e: NodeJS.ErrnoException) => e.code)), 'no metrics port').to.equal('ECONNREFUSED');
    expect(app.stderr().split('\n').filter((l) => l.startsWith('[vigil]')), app.stderr()).to.deep.equal([]);
  });

  it('pm2-style copies with the same settings: both serve, the first keeps the port, the second says so once', async function () {
    const port = String(await freePort());
    const first = await launch(STATS_APP, { OTEL_EXPORTER_PROMETHEUS_PORT: port });
    await waitFor(async () => (await request(Number(port), '/metrics')).status === 200, 5_000);
    const second = await launch(STATS_APP, { OTEL_EXPORTER_PROMETHEUS_PORT: port });
    for (const app of [first, second]) expect((await request(app.port, '/orders/1')).status).to.equal(200);
    await waitFor(() => count(second.stderr(), PORT_TAKEN) === 1, 5_000);
    expect(requestsIn(await scrape(Number(port))), 'the endpoint is the first copy\'s').to.equal(1);
    expect(count(first.stderr(), PORT_TAKEN)).to.equal(0);
  });
});
