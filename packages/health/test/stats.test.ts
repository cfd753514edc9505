import { expect } from 'chai';
import { aiTasksTotal, cacheOperationsTotal, httpConcurrentConnections, httpRequestsTotal, LeanRegistry } from '@vigil/catalog';
import { request } from '@vigil/testing';
import { createHealth, healthRequestHandler, METRIC_SOURCE_KEY, type HandlerOptions } from '../src';
import { captureStderr, httpServer, withEnv } from './helpers';

const scope = { name: 'stats-test' };
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** A registry holding what the seed's stats read: requests, connections, AI tasks by service, cache operations. */
function registryWithTraffic(): LeanRegistry {
  const r = new LeanRegistry();
  const requests = r.values(httpRequestsTotal, scope);
  requests.add(['GET', '/api/v1/chat', '200', 'user'], 3);
  requests.add(['POST', '/api/v1/images', '500', 'user'], 2);
  r.values(httpConcurrentConnections, scope).add([], 4);
  const tasks = r.values(aiTasksTotal, scope);
  tasks.add(['midjourney', 'success', 'user'], 5);
  tasks.add(['midjourney', 'failed', 'user'], 1);
  tasks.add(['sora', 'success', 'admin'], 2);
  const cache = r.values(cacheOperationsTotal, scope);
  cache.add(['get', 'hit'], 8);
  cache.add(['get', 'miss'], 2);
  cache.add(['set', 'success'], 3);
  return r;
}

const EXPECTED = {
  cache_stats: { hits: 8, misses: 2, hit_rate: 0.8, operations: { get: 10, set: 3 } },
  active_connections: 4,
  total_requests: 5,
  ai_tasks_stats: { midjourney: 6, flux: 0, dreamwork: 0, jimeng: 0, kling: 0, sora: 2 },
};

describe('admin-only stats endpoint', () => {
  const health = createHealth({ metrics: false });
  const servers: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  async function serve(options: HandlerOptions): Promise<number> {
    const s = await httpServer(healthRequestHandler(health, options));
    servers.push(s);
    return s.port;
  }

  it('with a bearer token: 401 without or with a wrong token, 200 and the seed\'s stats with the right one', async () => {
    const port = await serve({ stats: { token: 'bearer-token-for-admins-42', sources: [registryWithTraffic()] } });
    const none = await request(port, '/monitoring/stats');
    expect(none.status).to.equal(401);
    expect(none.headers['www-authenticate']).to.equal('Bearer realm="vigil"');
    expect(JSON.parse(none.text)).to.deep.equal({ error: 'unauthorized' });
    for (const authorization of ['Bearer bearer-token-for-admins-4', 'Bearer bearer-token-for-admins-42x', 'bearer-token-for-admins-42', basic('admin', 'bearer-token-for-admins-42')]) {
      expect((await request(port, '/monitoring/stats', { headers: { authorization } })).status, authorization).to.equal(401);
    }
    const ok = await request(port, '/monitoring/stats', { headers: { authorization: 'Bearer bearer-token-for-admins-42' } });
    expect(ok.status).to.equal(200);
    expect(ok.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(ok.text)).to.deep.equal(EXPECTED);
  });

  it('with basic auth: 401 for a wrong user or password, 200 for the right pair', async () => {
    const port = await serve({ stats: { basic: { username: 'admin', password: 'c0rrect:horse' }, sources: [registryWithTraffic()] } });
    const none = await request(port, '/monitoring/stats');
    expect(none.status).to.equal(401);
    expect(none.headers['www-authenticate']).to.equal('Basic realm="vigil", charset="UTF-8"');
    expect((await request(port, '/monitoring/stats', { headers: { authorization: basic('admin', 'wrong') } })).status).to.equal(401);
    expect((await request(port, '/monitoring/stats', { headers: { authorization: basic('root', 'c0rrect:horse') } })).status).to.equal(401);
    expect((await request(port, '/monitoring/stats', { headers: { authorization: 'Basic !!!' } })).status).to.equal(401);
    const ok = await request(port, '/monitoring/stats', { headers: { authorization: basic('admin', 'c0rrect:horse') } });
    expect(ok.status).to.equal(200);
    expect(JSON.parse(ok.text)).to.deep.equal(EXPECTED);
  });

  it('with an authorize(req) hook; a hook that throws denies, and says so once', async () => {
    const port = await serve({
      stats: {
        path: '/admin/stats',
        authorize: (req) => {
          if (req.headers['x-admin'] === 'boom') throw new Error('session store down');
          return req.headers['x-admin'] === 'yes';
        },
        stats: async () => ({ custom: true }),
      },
    });
    expect((await request(port, '/admin/stats')).status).to.equal(401);
    expect((await request(port, '/admin/stats', { headers: { 'x-admin': 'no' } })).status).to.equal(401);
    const { stderr } = await captureStderr(async () => {
      expect((await request(port, '/admin/stats', { headers: { 'x-admin': 'boom' } })).status).to.equal(401);
      expect((await request(port, '/admin/stats', { headers: { 'x-admin': 'boom' } })).status).to.equal(401);
    });
    expect(stderr.match(/authorize\(\) hook threw/g)).to.have.length(1);
    const ok = await request(port, '/admin/stats', { headers: { 'x-admin': 'yes' } });
    expect(ok.status).to.equal(200);
    expect(JSON.parse(ok.text)).to.deep.equal({ custom: true });
  });

  it('has no unauthenticated mode: configured without auth it answers 404 and logs once why', async () => {
    const { result: port, stderr } = await captureStderr(() => withEnv({ VIGIL_HEALTH_STATS_TOKEN: undefined }, () => serve({ stats: {} })));
    expect(stderr.match(/stats endpoint \/monitoring\/stats has no authentication configured/g)).to.have.length(1);
    const { stderr: later } = await captureStderr(async () => {
      for (let i = 0; i < 3; i++) expect((await request(port, '/monitoring/stats')).status).to.equal(404);
    });
    expect(later).to.equal('');
  });

  it('takes the token from VIGIL_HEALTH_STATS_TOKEN; without it and without the option the path is not served; false turns it off', async () => {
    const port = await withEnv({ VIGIL_HEALTH_STATS_TOKEN: 'env-token-0123456789abcdef' }, () => serve({}));
    expect((await request(port, '/monitoring/stats')).status).to.equal(401);
    expect((await request(port, '/monitoring/stats', { headers: { authorization: 'Bearer env-token-0123456789abcdef' } })).status).to.equal(200);
    const off = await withEnv({ VIGIL_HEALTH_STATS_TOKEN: 'env-token-0123456789abcdef' }, () => serve({ stats: false }));
    expect((await request(off, '/monitoring/stats', { headers: { authorization: 'Bearer env-token-0123456789abcdef' } })).status).to.equal(404);
    const unset = await withEnv({ VIGIL_HEALTH_STATS_TOKEN: undefined }, () => serve({}));
    expect((await request(unset, '/monitoring/stats')).status).to.equal(404);
  });

  it('reads the metric source @vigil/node registers when no sources are given', async () => {
    const g = globalThis as { [METRIC_SOURCE_KEY]?: unknown };
    g[METRIC_SOURCE_KEY] = registryWithTraffic();
    try {
      const port = await serve({ stats: { token: 'registered-source-token-123' } });
      const ok = await request(port, '/monitoring/stats', { headers: { authorization: 'Bearer registered-source-token-123' } });
      expect(JSON.parse(ok.text)).to.deep.equal(EXPECTED);
    } finally {
      delete g[METRIC_SOURCE_KEY];
    }
  });
});
