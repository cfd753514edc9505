// What vigil does at start-up, and what it leaves for later: code that a process may never
// need loads when it is first needed, so a preloaded start stays short.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { hostDetector as upstreamHostDetector } from '@opentelemetry/resources';
import { hostDetector } from '../src/start';

describe('start-up', () => {
  it("host detector: upstream's host.name and host.arch, and no host.id (which vigil leaves out)", async () => {
    const upstream = upstreamHostDetector.detect().attributes ?? {};
    await upstream['host.id']; // let upstream's machine-id read settle within the test
    const ours = hostDetector.detect().attributes ?? {};
    expect(ours).to.deep.equal({ 'host.name': upstream['host.name'], 'host.arch': upstream['host.arch'] });
    expect(Object.keys(ours)).to.deep.equal(['host.name', 'host.arch']);
  });

  it('a preloaded start loads no TLS, zlib, @vigil/health, Prometheus exporter or Redis client patches; the stats source is registered', () => {
    const script = `
      const files = Object.keys(require.cache);
      const loaded = (re) => files.filter((f) => re.test(f)).map((f) => f.split(/[\\\\/]/).slice(-3).join('/'));
      const builtins = ['tls', 'zlib'].filter((b) => process.moduleLoadList.includes('NativeModule ' + b));
      const early = {
        builtins,
        modules: loaded(/[\\\\/](health|exporter-prometheus)[\\\\/]|instrumentation-redis[\\\\/]build[\\\\/]src[\\\\/](ioredis|node-redis|memory|probe|recorder)\\.js$/),
      };
      const { METRIC_SOURCE_KEY } = require('@vigil/health');
      console.log(JSON.stringify({ early, source: typeof globalThis[METRIC_SOURCE_KEY]?.collect }));
    `;
    const r = spawnSync(process.execPath, ['--require', '@vigil/node/register', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, OTEL_EXPORTER_PROMETHEUS_PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ early: { builtins: [], modules: [] }, source: 'function' });
  });
});
