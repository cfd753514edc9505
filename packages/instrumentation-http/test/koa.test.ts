import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { close, get, inFlight, listen, requestLines, withHttpMetrics } from './helpers';

function buildApp(): Koa {
  const app = new Koa();
  app.silent = true; // no stack traces on stderr for the 500 test
  app.use(async (ctx, next) => {
    if (ctx.get('authorization') === 'Bearer editor') ctx.state.user = { role: 'editor' };
    await next();
  });
  const users = new Router();
  users.get('/:id', (ctx) => {
    ctx.body = { id: ctx.params.id };
  });
  users.get('/:id/fail', () => {
    throw new Error('route failed');
  });
  const v1 = new Router();
  v1.use('/users', users.routes(), users.allowedMethods());
  v1.post('/tasks', (ctx) => {
    ctx.status = 201;
    ctx.body = 'queued';
  });
  const root = new Router();
  root.use('/api/v1', v1.routes(), v1.allowedMethods());
  root.get('/', (ctx) => {
    ctx.body = 'home';
  });
  app.use(root.routes());
  app.use(root.allowedMethods());
  return app;
}

describe('HttpServerInstrumentation with Koa and @koa/router', () => {
  const m = withHttpMetrics();
  let server: Server;
  let port = 0;

  before(async () => {
    server = createServer(buildApp().callback());
    port = await listen(server);
  });
  after(() => close(server));

  it('reports the route template, prefixes of nested routers included', async () => {
    expect(await get(port, '/api/v1/users/1')).to.equal(200);
    expect(await get(port, '/api/v1/users/2')).to.equal(200);
    expect(await get(port, '/api/v1/tasks', { method: 'POST' })).to.equal(201);
    expect(await get(port, '/')).to.equal(200);
    expect(await get(port, '/api/v1/users/3/fail')).to.equal(500);
    const text = await m.scrape();
    expect(requestLines(text)).to.deep.equal(
      [
        'http_requests_total{method="GET",endpoint="/",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="anonymous"} 2',
        'http_requests_total{method="GET",endpoint="/api/v1/users/:id/fail",status_code="500",user_role="anonymous"} 1',
        'http_requests_total{method="POST",endpoint="/api/v1/tasks",status_code="201",user_role="anonymous"} 1',
      ].sort(),
    );
    expect(text).to.include('http_request_duration_seconds_count{method="GET",endpoint="/api/v1/users/:id"} 2');
    expect(inFlight(text)).to.equal(0);
  });

  it('puts requests that match no route under one "unmatched" endpoint', async () => {
    for (let i = 0; i < 30; i++) expect(await get(port, `/scan/${i}/admin${i}.php`)).to.equal(404);
    expect(await get(port, '/api/v1/users/1', { method: 'DELETE' })).to.equal(405);
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="DELETE",endpoint="unmatched",status_code="405",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="unmatched",status_code="404",user_role="anonymous"} 30',
    ]);
  });

  it('takes user_role from ctx.state.user.role', async () => {
    await get(port, '/api/v1/users/1', { headers: { authorization: 'Bearer editor' } });
    await get(port, '/api/v1/users/1');
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="/api/v1/users/:id",status_code="200",user_role="editor"} 1',
    ]);
  });
});
