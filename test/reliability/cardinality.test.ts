// 100 000 distinct random URL paths through a preloaded plain http app (issue 9):
// the series count of http_requests_total stays bounded, the overflow is
// visible, and no label value in the final exposition is an id, UUID, email or token.
import { expect } from 'chai';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { scrape, startApp, type RunningApp } from '@vigil/testing';
import { labelValues, leakingLabels } from './scan';

const FIXTURE = join(__dirname, '..', '..', '..', 'packages', 'node', 'test', 'fixtures', 'plain.js');
const REQUESTS = 100_000;
const CONCURRENCY = 32;
/** Low enough that random words overflow it; the default (2000) is the README's. */
const LIMIT = 500;

function word(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(Math.random() * 26));
  return s;
}

/** A random path: ids of every shape under a few routes, plus random words (which stay literal and so overflow). */
function randomPath(i: number): string {
  switch (i % 8) {
    case 0: return `/users/${i}`;
    case 1: return `/orders/${randomUUID()}`;
    case 2: return `/u/${word(6)}.${i}@example.com/profile`;
    case 3: return `/keys/sk-${randomBytes(18).toString('base64url')}A1`;
    case 4: return `/files/${randomBytes(12).toString('hex')}?token=${randomBytes(8).toString('hex')}`;
    case 5: return `/${word(8)}/${word(5)}`; // literal words: new templates until the limit
    case 6: return `/a/b/c/d/e/f/g/h/i/j/${i}`;
    default: return `/users/${i}/posts/${i * 7}#frag`;
  }
}

describe('reliability: 100 000 distinct URL paths through a preloaded app', function () {
  this.timeout(80_000);
  let app: RunningApp;
  after(async function () {
    await app?.stop('SIGKILL');
  });

  it(`http_requests_total stays within the series limit (${LIMIT}), overflow is counted, and no label value carries an id`, async function () {
    app = await startApp({ script: FIXTURE, env: { VIGIL_METRIC_CARDINALITY_LIMIT: String(LIMIT) } });
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    let next = 0;
    let failures = 0;
    const t0 = Date.now();
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const path = randomPath(next++);
        await new Promise<void>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: app.port, path, agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', () => {
            failures++;
            resolve();
          });
          req.end();
        });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    const seconds = (Date.now() - t0) / 1000;
    expect(failures).to.equal(0);

    const text = await scrape(app.metricsPort);
    const lines = text.split('\n').filter((l) => l.startsWith('http_requests_total{'));
    const total = lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(total, 'every request counted').to.equal(REQUESTS);
    expect(lines.length).to.be.at.least(5).and.at.most(LIMIT + 1); // +1: the overflow series
    const overflow = /^vigil_metric_overflow_total\{[^}]*metric="http_requests_total"[^}]*\} (\d+)/m.exec(text);
    expect(overflow, `vigil_metric_overflow_total for http_requests_total in:\n${text.split('\n').filter((l) => l.includes('overflow')).join('\n')}`).not.to.equal(null);
    expect(Number(overflow![1])).to.be.greaterThan(0);

    // every label value of every series in the exposition
    expect(leakingLabels(text)).to.deep.equal([]);
    const values = [...labelValues(text).values()].reduce((n, set) => n + set.size, 0);
    if (process.env['VIGIL_RELIABILITY_REPORT']) {
      console.log(`      ${REQUESTS} requests in ${seconds.toFixed(1)} s; http_requests_total series ${lines.length}; overflow ${overflow![1]}; label values scanned ${values}`);
    }
  });
});
