import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { get, inFlight, requestLines, withHttpMetrics } from './helpers';

type WithUser = FastifyRequest & { user?: { role: string } | null };

async function buildApp(): Promise<FastifyInstance> {
  const app = Fastify();
  app.decorateRequest('user', null);
  // authentication as fastify-jwt does it: on the Fastify request, not the raw one
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization === 'Bearer admin') (request as WithUser).user = { role: 'admin' };
  });
  app.get('/users/:id', async () => ({ ok: true }));
  app.get('/', async () => 'home');
  await app.register(
    async (api) => {
      api.get('/orders/:orderId/lines/:line', async () => 'line');
      api.post('/orders', async (_req, reply) => reply.code(201).send('created'));
      await api.register(
        async (v1) => {
          v1.get('/models/:model', async () => 'model');
        },
        { prefix: '/v1' },
      );
      api.get('/boom', async () => {
        throw new Error('handler failed');
      });
    },
    { prefix: '/api' },
  );
  // auth that answers 401 before the handler: the route template is known already
  app.get('/private/:id', { onRequest: async (_req, reply) => reply.code(401).send('no') }, async () => 'never');
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

describe('HttpServerInstrumentation with Fastify', () => {
  const m = withHttpMetrics();
  let app: FastifyInstance;
  let port = 0;

  before(async () => {
    app = await buildApp();
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  it('reports route templates with plugin prefixes', async () => {
    expect(await get(port, '/users/1')).to.equal(200);
    expect(await get(port, '/users/2')).to.equal(200);
    expect(await get(port, '/')).to.equal(200);
    expect(await get(port, '/api/orders/77/lines/3')).to.equal(200);
    expect(await get(port, '/api/orders', { method: 'POST' })).to.equal(201);
    expect(await get(port, '/api/v1/models/gpt-4o')).to.equal(200);
    expect(await get(port, '/api/boom')).to.equal(500);
    expect(await get(port, '/private/9')).to.equal(401);
    const text = await m.scrape();
    expect(requestLines(text)).to.deep.equal(
      [
        'http_requests_total{method="GET",endpoint="/",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/boom",status_code="500",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/orders/:orderId/lines/:line",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/api/v1/models/:model",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/private/:id",status_code="401",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/users/:id",status_code="200",user_role="anonymous"} 2',
        'http_requests_total{method="POST",endpoint="/api/orders",status_code="201",user_role="anonymous"} 1',
      ].sort(),
    );
    expect(text).to.include('http_request_duration_seconds_count{method="GET",endpoint="/users/:id"} 2');
    expect(inFlight(text)).to.equal(0);
  });

  it('puts 404s under one "unmatched" endpoint', async () => {
    for (let i = 0; i < 30; i++) expect(await get(port, `/scan/${i}/.env${i}`)).to.equal(404);
    expect(await get(port, '/users/1', { method: 'DELETE' })).to.equal(404);
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="DELETE",endpoint="unmatched",status_code="404",user_role="anonymous"} 1',
      'http_requests_total{method="GET",endpoint="unmatched",status_code="404",user_role="anonymous"} 30',
    ]);
  });

  it('takes user_role from the Fastify request.user.role', async () => {
    await get(port, '/users/5', { headers: { authorization: 'Bearer admin' } });
    await get(port, '/users/6');
    expect(requestLines(await m.scrape())).to.deep.equal([
      'http_requests_total{method="GET",endpoint="/users/:id",status_code="200",user_role="admin"} 1',
      'http_requests_total{method="GET",endpoint="/users/:id",status_code="200",user_role="anonymous"} 1',
    ]);
  });
});
