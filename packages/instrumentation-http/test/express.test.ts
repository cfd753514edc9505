import { expect } from 'chai';
import { createServer } from 'node:http';
import type * as Express from 'express';
import { close, get, inFlight, listen, requestLines, withHttpMetrics } from './helpers';

type ExpressFactory = typeof Express.default;
type Req = Express.Request & { user?: { role?: string } };

// Express 5 is installed as `express`, Express 4 as the npm alias `express4`.
const express5 = require('express') as ExpressFactory;
const express4 = require('express4') as ExpressFactory;

function buildApp(express: ExpressFactory): Express.Express {
  const app = express();
  app.set('env', 'test'); // finalhandler: no stack traces on stderr for the 500 test
  // an authentication middleware in front of everything: sets req.user for a token
  app.use((req, _res, next) => {
    const token = req.headers.authorization;
    if (token === 'Bearer admin') (req as Req).user = { role: 'admin' };
    if (token === 'Bearer member') (req as Req).user = { role: 'member' };
    next();
  });

  const users = express.Router();
  users.get('/', (_req, res) => {
    res.send('list');
  });
  users.get('/:id', (_req, res) => {
    res.send('user');
  });
  users.get('/:id/fail', () => {
    throw new Error('route failed');
  });

  const admin = express.Router();
  admin.get('/settings/:key', (req, res) => {
    if (!(req as Req).user) {
      res.status(401).send('no');
      return;
    }
    res.send('setting');
  });

  const v1 = express.Router();
  v1.use('/users', users);
  v1.use('/admin', admin);
  v1.get('/', (_req, res) => {
    res.send('v1 root');
  });
  app.use('/api/v1', v1);

  const org = express.Router({ mergeParams: true });
  org.get('/projects/:projectId', (_req, res) => {
    res.send('project');
  });
  app.use('/orgs/:orgId', org);

  app
    .route('/items')
    .get((_req, res) => {
      res.send('items');
    })
    .post((_req, res) => {
      res.status(201).send('created');
    });

  const sub = express();
  sub.get('/x/:id', (_req, res) => {
    res.send('sub');
  });
  app.use('/sub', sub);

  app.get('/', (_req, res) => {
    res.send('home');
  });
  return app;
}

for (const [name, express] of [
  ['Express 4', express4],
  ['Express 5', express5],
] as const) {
  describe(`HttpServerInstrumentation with ${name}`, () => {
    const m = withHttpMetrics();
    let port = 0;
    let server: ReturnType<typeof createServer>;

    before(async () => {
      server = createServer(buildApp(express));
      port = await listen(server);
    });
    after(() => close(server));

    it('reports the full mounted route template of nested routers', async () => {
      expect(await get(port, '/api/v1/users/42')).to.equal(200);
      expect(await get(port, '/api/v1/users/43?expand=orders')).to.equal(200);
      expect(await get(port, '/api/v1/users')).to.equal(200);
      expect(await get(port, '/api/v1')).to.equal(200);
      expect(await get(port, '/api/v1/admin/settings/theme', { headers: { authorization: 'Bearer admin' } })).to.equal(200);
      expect(await get(port, '/orgs/7/projects/9')).to.equal(200);
      expect(await get(port, '/items')).to.equal(200);
      expect(await get(port, '/items', { method: 'POST' })).to.equal(201);
      expect(await get(port, '/sub/x/5')).to.equal(200);
      expect(await get(port, '/')).to.equal(200);
      const text = await m.scrape();
      expect(requestLines(text)).to.deep.equal(
        [
          'http_requests_total{method="GET",endpoint="/",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/api/v1",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/api/v1/admin/settings/:key",status_code="200",user_role="admin"} 1',
          'http_requests_total{method="GET",endpoint="/api/v1/users",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="anonymous"} 2',
          'http_requests_total{method="GET",endpoint="/items",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/orgs/:orgId/projects/:projectId",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/sub/x/:id",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="POST",endpoint="/items",status_code="201",user_role="anonymous"} 1',
        ].sort(),
      );
      expect(text).to.include('http_request_duration_seconds_count{method="GET",endpoint="/api/v1/users/:id"} 2');
      expect(inFlight(text)).to.equal(0);
    });

    it('keeps the route template for errors and rejections inside a route', async () => {
      expect(await get(port, '/api/v1/users/42/fail')).to.equal(500);
      expect(await get(port, '/api/v1/admin/settings/theme')).to.equal(401);
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/api/v1/admin/settings/:key",status_code="401",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id/fail",status_code="500",user_role="anonymous"} 1',
      ]);
    });

    it('puts every request that matches no route under one "unmatched" endpoint', async () => {
      for (let i = 0; i < 50; i++) expect(await get(port, `/scan/${i}/wp-login${i}.php`)).to.equal(404);
      expect(await get(port, '/api/v1/nothing-here')).to.equal(404);
      expect(await get(port, '/api/v1/users/42', { method: 'DELETE' })).to.equal(404);
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="DELETE",endpoint="unmatched",status_code="404",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="unmatched",status_code="404",user_role="anonymous"} 51',
      ]);
    });

    it('takes user_role from req.user.role set by middleware', async () => {
      await get(port, '/api/v1/users/1', { headers: { authorization: 'Bearer member' } });
      await get(port, '/api/v1/users/2', { headers: { authorization: 'Bearer admin' } });
      await get(port, '/api/v1/users/3');
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="admin"} 1',
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="member"} 1',
      ]);
    });
  });
}

describe('HttpServerInstrumentation with Express and endpointPrefixRules', () => {
  const m = withHttpMetrics({ endpointPrefixRules: ['/api/v1'] });

  it('collapses route templates under the prefix to the prefix plus one segment', async () => {
    const server = createServer(buildApp(express5));
    const port = await listen(server);
    try {
      await get(port, '/api/v1/users/42');
      await get(port, '/api/v1/admin/settings/x');
      await get(port, '/items');
    } finally {
      await close(server);
    }
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="GET",endpoint="/api/v1/admin",status_code="401",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/api/v1/users",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/items",status_code="200",user_role="anonymous"} 1',
    ]);
  });
});

describe('HttpServerInstrumentation enabled after the Express apps were built', () => {
  // Built while the instrumentation is disabled (the suites above disabled it),
  // as when vigil is started from code after the app: the routers were not
  // tagged at registration and are tagged at their first request instead.
  const servers: Record<string, { server: ReturnType<typeof createServer>; port: number }> = {};
  before(async () => {
    for (const [name, express] of [
      ['4', express4],
      ['5', express5],
    ] as const) {
      const server = createServer(buildApp(express));
      servers[name] = { server, port: await listen(server) };
    }
  });
  after(async () => {
    for (const s of Object.values(servers)) await close(s.server);
  });
  const m = withHttpMetrics();

  it('Express 5 (router keeps the mount paths): full templates', async () => {
    const { port } = servers['5']!;
    await get(port, '/api/v1/users/42');
    await get(port, '/orgs/7/projects/9');
    await get(port, '/items');
    await get(port, '/nope');
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/items",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/orgs/:orgId/projects/:projectId",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="unmatched",status_code="404",user_role="anonymous"} 1',
    ]);
  });

  it('Express 4: routes outside path mounts keep their template, routes below a path mount are "unmatched" rather than wrong', async () => {
    const { port } = servers['4']!;
    await get(port, '/api/v1/users/42');
    await get(port, '/items');
    await get(port, '/');
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="GET",endpoint="/",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/items",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="unmatched",status_code="200",user_role="anonymous"} 1',
    ]);
  });
});
