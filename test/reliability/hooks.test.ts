// User hooks that misbehave, end to end (issue 9, "Hostile input"): a service
// starts vigil with a routeResolver and a userRoleResolver (and wraps functions
// with @vigil/business option functions) that throw, return non-strings,
// promises, 1 MB strings, newlines, quotes and invalid UTF-16. Every request
// still succeeds, /metrics stays valid (promtool), label values stay short,
// and stderr has one line per kind of misbehaviour.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseMetrics, request, samplesOf, scrape, startApp, type RunningApp } from '@vigil/testing';

const FIXTURE = join(__dirname, '..', '..', '..', 'test', 'reliability', 'fixtures', 'hooks-app.js');
/** The behaviours of the fixture's hooks (its BEHAVIOURS keys). */
const BEHAVIOURS = [
  'throw', 'throw-null-proto', 'throw-symbol', 'throw-hostile-getter', 'number', 'object', 'null-proto', 'symbol', 'null',
  'promise', 'rejected-promise', 'huge', 'newlines-quotes', 'invalid-utf16', 'empty', 'undefined', 'fine',
];
const PER_BEHAVIOUR = 5;
const MAX_ENDPOINT = 128;
const MAX_ROLE = 32;
const MAX_NAME = 64;

function promtoolCheck(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(r.error, 'promtool must be installed (scripts/setup.sh installs it)').to.equal(undefined);
  expect(`${r.stdout}${r.stderr}`.trim().slice(0, 2000)).to.equal('');
  expect(r.status).to.equal(0);
}

describe('reliability: user hooks that throw, return junk or huge strings', function () {
  this.timeout(60_000);
  let app: RunningApp;
  before(async function () {
    app = await startApp({ script: FIXTURE, preload: 'none' });
  });
  after(async function () {
    await app?.stop('SIGKILL');
  });

  it('HTTP resolvers: every request succeeds, /metrics is valid, endpoint and user_role stay short', async function () {
    for (const b of BEHAVIOURS) {
      for (let i = 0; i < PER_BEHAVIOUR; i++) {
        const res = await request(app.port, `/http/${b}/${i}`);
        expect(res.status, `${b}: ${res.text}\n${app.stderr().slice(0, 2000)}`).to.equal(200);
        expect(res.text).to.equal('ok');
      }
    }
    const text = await scrape(app.metricsPort);
    promtoolCheck(text);
    const samples = samplesOf(text, 'http_requests_total');
    expect(samples.reduce((n, s) => n + s.value, 0), 'every request counted').to.equal(BEHAVIOURS.length * PER_BEHAVIOUR);
    for (const s of samples) {
      expect(s.labels['endpoint']!.length, s.labels['endpoint']!.slice(0, 200)).to.be.within(1, MAX_ENDPOINT);
      expect(s.labels['user_role']!.length, s.labels['user_role']).to.be.within(1, MAX_ROLE);
    }
    // a working resolver is used; the huge route is cut; junk falls back to the normalised path and "anonymous"
    expect(samples.find((s) => s.labels['endpoint'] === '/fine/:id' && s.labels['user_role'] === 'admin')?.value).to.equal(PER_BEHAVIOUR);
    expect(samples.some((s) => s.labels['endpoint'] === `/${'x'.repeat(MAX_ENDPOINT - 1)}`)).to.equal(true);
    expect(samples.find((s) => s.labels['endpoint'] === '/http/number/:id' && s.labels['user_role'] === 'anonymous')?.value).to.equal(PER_BEHAVIOUR);
    // control characters and line separators of a result are cleaned (quotes and backslashes are escaped)
    expect(samples.some((s) => s.labels['endpoint'] === '/a b"c\\d e f g')).to.equal(true);
    for (const s of samples) expect(JSON.stringify(s.labels)).not.to.match(/[\u0000-\u001f\u007f\u2028\u2029]|\\[nrtu]/);
  });

  it('@vigil/business option functions: the wrapped calls return their own result, counted, names short', async function () {
    for (const b of BEHAVIOURS) {
      const res = await request(app.port, `/business/${b}`);
      expect(res.status, `${b}: ${res.text}\n${app.stderr().slice(0, 2000)}`).to.equal(200);
      expect(res.text).to.equal(`ok image of ${b} 10 ${b}`);
    }
    const text = await scrape(app.metricsPort);
    promtoolCheck(text);
    const tasks = samplesOf(text, 'ai_tasks_total');
    expect(tasks.reduce((n, s) => n + s.value, 0)).to.equal(BEHAVIOURS.length);
    expect(samplesOf(text, 'credits_operations_total').reduce((n, s) => n + s.value, 0)).to.equal(BEHAVIOURS.length);
    for (const s of parseMetrics(text)) {
      if (!/^(ai_|credits_)/.test(s.name)) continue;
      for (const [name, value] of Object.entries(s.labels)) expect(value.length, `${s.name} ${name}=${value.slice(0, 100)}`).to.be.within(1, MAX_NAME);
    }
    // junk gives the defaults
    expect(tasks.find((s) => s.labels['user_role'] === 'user')?.value).to.be.at.least(10);
  });

  it('stderr: one line per kind of misbehaviour, each on one line, nothing echoed in full; the app is alive', function () {
    expect(app.child.exitCode, app.stderr().slice(0, 3000)).to.equal(null);
    const err = app.stderr();
    expect(err.length, 'the 1 MB values are never echoed').to.be.below(8 * 1024);
    const lines = err.split('\n').filter((l) => l.length > 0);
    for (const line of lines) expect(line, 'every line is one of vigil\'s').to.match(/^\[vigil\] (warn|info|error): /);
    expect(new Set(lines).size, `repeated lines:\n${err}`).to.equal(lines.length);
    const kinds: [string, RegExp][] = [
      ['routeResolver threw', /routeResolver threw/],
      ['routeResolver returned junk', /routeResolver returned/],
      ['userRoleResolver threw', /userRoleResolver threw/],
      ['userRoleResolver returned junk', /userRoleResolver returned/],
      ['mode option threw', /the mode option threw/],
      ['mode option returned junk', /the mode option returned/],
      ['userRole option threw', /the userRole option threw/],
      ['userRole option returned junk', /the userRole option returned/],
      ['amount option threw', /the amount option threw/],
      ['balance option threw', /the balance option threw/],
    ];
    for (const [kind, re] of kinds) expect(lines.filter((l) => re.test(l)), `${kind} in:\n${err}`).to.have.length(1);
    if (process.env['VIGIL_RELIABILITY_REPORT']) console.log(`      ${lines.length} lines on stderr:\n${lines.map((l) => `        ${l}`).join('\n')}`);
  });
});
