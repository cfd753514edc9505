import { expect } from 'chai';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { leanRegistry } from '@vigil/catalog';
import { sampleValue, samplesOf, waitFor } from '@vigil/testing';
import { close, get, inFlight, instrumentation, listen, rawClient, requestLines, sleep, withHttpMetrics } from './helpers';

type WithUser = IncomingMessage & { user?: unknown };

async function serve(handler: RequestListener): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer(handler);
  const port = await listen(server);
  return { port, stop: () => close(server) };
}

const hello: RequestListener = (_req, res) => {
  res.end('hello');
};

describe('HttpServerInstrumentation on plain node:http', () => {
  const m = withHttpMetrics();

  it('counts requests with normalised endpoints, status codes and the anonymous role', async () => {
    const app = await serve((req, res) => {
      res.statusCode = req.url?.startsWith('/missing') ? 404 : req.method === 'POST' ? 201 : 200;
      res.end('ok');
    });
    try {
      await get(app.port, '/');
      await get(app.port, '/users/17');
      await get(app.port, '/users/18?expand=1');
      await get(app.port, '/users/550e8400-e29b-41d4-a716-446655440000/orders');
      await get(app.port, '/users', { method: 'POST', body: '{}' });
      await get(app.port, '/missing/page');
      const text = await m.scrape();
      expect(requestLines(text)).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/missing/page",status_code="404",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/users/:id",status_code="200",user_role="anonymous"} 2',
        'http_requests_total{method="GET",endpoint="/users/:id/orders",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="POST",endpoint="/users",status_code="201",user_role="anonymous"} 1',
      ]);
      expect(sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', endpoint: '/users/:id' })).to.equal(2);
      expect(inFlight(text)).to.equal(0);
      // the documented names only: no scope labels
      expect(text).not.to.match(/otel_scope/);
    } finally {
      await app.stop();
    }
  });

  it('normalises the path the client asked for, even when the handler rewrites req.url', async () => {
    const app = await serve((req, res) => {
      req.url = '/rewritten/by/handler';
      res.end('ok');
    });
    try {
      await get(app.port, '/orders/991');
      expect(requestLines(await m.scrape())).to.deep.equal(['http_requests_total{method="GET",endpoint="/orders/:id",status_code="200",user_role="anonymous"} 1']);
    } finally {
      await app.stop();
    }
  });

  it('puts durations in the documented buckets', async () => {
    const app = await serve((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow'), 600);
      else res.end('fast');
    });
    try {
      await get(app.port, '/fast');
      await get(app.port, '/slow');
      const text = await m.scrape();
      const bucket = (endpoint: string, le: string) => sampleValue(text, 'http_request_duration_seconds_bucket', { method: 'GET', endpoint, le });
      // fast: well under 250 ms; slow: between 600 ms and 1 s
      for (const le of ['0.25', '0.5', '1', '2.5', '5', '10', '+Inf']) expect(bucket('/fast', le), `fast le=${le}`).to.equal(1);
      for (const le of ['0.01', '0.05', '0.1', '0.25', '0.5']) expect(bucket('/slow', le), `slow le=${le}`).to.equal(0);
      for (const le of ['1', '2.5', '5', '10', '+Inf']) expect(bucket('/slow', le), `slow le=${le}`).to.equal(1);
      const les = samplesOf(text, 'http_request_duration_seconds_bucket', { endpoint: '/slow' }).map((s) => s.labels.le);
      expect(les).to.deep.equal(['0.01', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
      const sum = sampleValue(text, 'http_request_duration_seconds_sum', { method: 'GET', endpoint: '/slow' })!;
      // setTimeout counts from the event loop's cached clock, so by hrtime it can fire up to a millisecond early
      expect(sum).to.be.within(0.59, 1.0);
      expect(sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', endpoint: '/slow' })).to.equal(1);
    } finally {
      await app.stop();
    }
  });

  it('shows requests in flight and returns to 0', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const app = await serve((_req, res) => {
      void gate.then(() => res.end('done'));
    });
    try {
      const pending = [get(app.port, '/a'), get(app.port, '/b'), get(app.port, '/c')];
      await waitFor(async () => inFlight(await m.scrape()) === 3);
      release();
      await Promise.all(pending);
      expect(inFlight(await m.scrape())).to.equal(0);
    } finally {
      await app.stop();
    }
  });

  it('counts keep-alive requests on one connection', async () => {
    const app = await serve(hello);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port: app.port, path: `/ka/${i}`, agent }, (res) => {
            sockets.add(res.socket);
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end();
        });
      }
      expect(sockets.size).to.equal(1);
      const text = await m.scrape();
      expect(requestLines(text)).to.deep.equal(['http_requests_total{method="GET",endpoint="/ka/:id",status_code="200",user_role="anonymous"} 5']);
      expect(inFlight(text)).to.equal(0);
    } finally {
      agent.destroy();
      await app.stop();
    }
  });

  it('counts pipelined requests on one connection', async () => {
    const app = await serve(hello);
    try {
      const c = await rawClient(app.port);
      c.socket.write('GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await c.closed;
      expect(c.received().match(/HTTP\/1\.1 200/g)).to.have.length(3);
      const text = await m.scrape();
      expect(requestLines(text)).to.deep.equal(['http_requests_total{method="GET",endpoint="/p/:id",status_code="200",user_role="anonymous"} 3']);
      expect(inFlight(text)).to.equal(0);
    } finally {
      await app.stop();
    }
  });

  it('counts a request the client aborts mid-response as 499 and returns in-flight to 0', async () => {
    const app = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial '); // and never ends
    });
    try {
      const c = await rawClient(app.port);
      c.socket.write('GET /stream/1 HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.waitFor(/partial/);
      expect(inFlight(await m.scrape())).to.equal(1);
      c.socket.destroy();
      const text = await waitFor(async () => {
        const t = await m.scrape();
        return requestLines(t).length > 0 ? t : undefined;
      });
      expect(requestLines(text)).to.deep.equal(['http_requests_total{method="GET",endpoint="/stream/:id",status_code="499",user_role="anonymous"} 1']);
      expect(sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', endpoint: '/stream/:id' })).to.equal(1);
      expect(inFlight(text)).to.equal(0);
    } finally {
      await app.stop();
    }
  });

  it('counts a request aborted before any response byte, and pipelined requests queued behind it', async () => {
    const app = await serve((req, res) => {
      if (req.url === '/hang') return; // never answers
      res.end('queued behind /hang');
    });
    try {
      const c = await rawClient(app.port);
      c.socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\nGET /q/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /q/2 HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(async () => inFlight(await m.scrape()) === 3);
      c.socket.destroy();
      const text = await waitFor(async () => {
        const t = await m.scrape();
        return inFlight(t) === 0 ? t : undefined;
      });
      expect(requestLines(text)).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/hang",status_code="499",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/q/:id",status_code="499",user_role="anonymous"} 2',
      ]);
    } finally {
      await app.stop();
    }
  });

  it('counts requests whose socket the application destroys, or that the server times out', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/destroy') res.destroy(new Error('handler gave up'));
      // '/timeout': never answers; the server's timeout closes the socket
    });
    server.setTimeout(300);
    const port = await listen(server);
    try {
      await get(port, '/destroy').then(
        () => expect.fail('the request should fail'),
        () => undefined,
      );
      const c = await rawClient(port);
      c.socket.write('GET /timeout HTTP/1.1\r\nHost: x\r\n\r\n');
      await c.closed;
      const text = await waitFor(async () => {
        const t = await m.scrape();
        return requestLines(t).length === 2 && inFlight(t) === 0 ? t : undefined;
      });
      expect(requestLines(text)).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/destroy",status_code="499",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/timeout",status_code="499",user_role="anonymous"} 1',
      ]);
    } finally {
      await close(server);
    }
  });

  it('folds unknown methods into _OTHER', async () => {
    const app = await serve(hello);
    try {
      const c = await rawClient(app.port);
      c.socket.write('PROPFIND /dav/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await c.closed;
      await get(app.port, '/dav/x', { method: 'PATCH' });
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="PATCH",endpoint="/dav/x",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="_OTHER",endpoint="/dav/x",status_code="200",user_role="anonymous"} 1',
      ]);
    } finally {
      await app.stop();
    }
  });

  it('ignores /metrics by default and servers vigil marks as its own', async () => {
    const app = await serve(hello);
    const internal = createServer(hello);
    (internal as unknown as Record<symbol, boolean>)[Symbol.for('vigil.internal-server')] = true;
    const internalPort = await listen(internal);
    try {
      await get(app.port, '/metrics');
      await get(app.port, '/metrics?name[]=up');
      await get(internalPort, '/anything');
      await get(app.port, '/counted');
      expect(requestLines(await m.scrape())).to.deep.equal(['http_requests_total{method="GET",endpoint="/counted",status_code="200",user_role="anonymous"} 1']);
    } finally {
      await close(internal);
      await app.stop();
    }
  });

  it('takes user_role from req.user.role, "user" for a user without one, else anonymous', async () => {
    const app = await serve((req, res) => {
      const r = req as WithUser;
      if (req.url === '/admin') r.user = { role: 'admin' };
      if (req.url === '/norole') r.user = { id: 7 };
      if (req.url === '/longrole') r.user = { role: 'x'.repeat(40) };
      res.end('ok');
    });
    try {
      for (const p of ['/admin', '/admin', '/norole', '/longrole', '/anon']) await get(app.port, p);
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/admin",status_code="200",user_role="admin"} 2',
        'http_requests_total{method="GET",endpoint="/anon",status_code="200",user_role="anonymous"} 1',
        'http_requests_total{method="GET",endpoint="/longrole",status_code="200",user_role="user"} 1',
        'http_requests_total{method="GET",endpoint="/norole",status_code="200",user_role="user"} 1',
      ]);
    } finally {
      await app.stop();
    }
  });

  it('reads the role when the response finishes, after authentication ran', async () => {
    const app = await serve((req, res) => {
      setTimeout(() => {
        (req as WithUser).user = { role: 'editor' };
        res.end('late auth');
      }, 20);
    });
    try {
      await get(app.port, '/late');
      expect(requestLines(await m.scrape())).to.deep.equal(['http_requests_total{method="GET",endpoint="/late",status_code="200",user_role="editor"} 1']);
    } finally {
      await app.stop();
    }
  });

  it('keeps a scan of random ids at one series', async () => {
    const app = await serve(hello);
    try {
      for (let i = 0; i < 300; i++) await get(app.port, `/scan/${crypto.randomUUID()}/x${i % 3 === 0 ? '?q=' + i : ''}`);
      const lines = requestLines(await m.scrape());
      expect(lines).to.deep.equal(['http_requests_total{method="GET",endpoint="/scan/:id/x",status_code="200",user_role="anonymous"} 300']);
    } finally {
      await app.stop();
    }
  });

  it('keeps a scan of distinct words bounded by the cardinality limit', async () => {
    const registry = leanRegistry();
    const limit = registry.cardinalityLimit;
    registry.cardinalityLimit = 20;
    const app = await serve((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    try {
      for (let i = 0; i < 60; i++) await get(app.port, `/wp-admin/page${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}.php`);
      const text = await m.scrape();
      const series = samplesOf(text, 'http_requests_total');
      expect(series).to.have.length(21); // 20 label sets and the overflow series
      expect(series.reduce((n, s) => n + s.value, 0)).to.equal(60);
      expect(sampleValue(text, 'http_requests_total', { otel_metric_overflow: 'true' })).to.equal(40);
      expect(sampleValue(text, 'vigil_metric_overflow_total', { metric: 'http_requests_total' })).to.be.at.least(40);
    } finally {
      registry.cardinalityLimit = limit;
      await app.stop();
    }
  });
});

describe('HttpServerInstrumentation options', () => {
  describe('ignorePaths and endpointPrefixRules from code', () => {
    const m = withHttpMetrics({ ignorePaths: ['/healthz', '/internal/*'], endpointPrefixRules: ['/api/v1'] });

    it('ignores the configured paths (and no longer /metrics) and applies the prefix rule', async () => {
      const app = await serve(hello);
      try {
        for (const p of ['/healthz', '/internal/vars', '/metrics', '/api/v1/users/42/posts', '/api/v1/billing']) await get(app.port, p);
        expect(requestLines(await m.scrape())).to.deep.equal([
          'http_requests_total{method="GET",endpoint="/api/v1/billing",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/api/v1/users",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/metrics",status_code="200",user_role="anonymous"} 1',
        ]);
      } finally {
        await app.stop();
      }
    });
  });

  describe('VIGIL_HTTP_* environment variables', () => {
    const saved = { ...process.env };
    before(() => {
      process.env.VIGIL_HTTP_IGNORE_PATHS = '/ping, /status/*';
      process.env.VIGIL_HTTP_ENDPOINT_PREFIX_RULES = '/svc';
      process.env.VIGIL_HTTP_MAX_PATH_SEGMENTS = '2';
    });
    after(() => {
      for (const k of ['VIGIL_HTTP_IGNORE_PATHS', 'VIGIL_HTTP_ENDPOINT_PREFIX_RULES', 'VIGIL_HTTP_MAX_PATH_SEGMENTS']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    });
    const m = withHttpMetrics();

    it('are read when no code option is given', async () => {
      const app = await serve(hello);
      try {
        for (const p of ['/ping', '/status/db', '/svc/orders/1/lines', '/a/b/c/d']) await get(app.port, p);
        expect(requestLines(await m.scrape())).to.deep.equal([
          'http_requests_total{method="GET",endpoint="/a/b/*",status_code="200",user_role="anonymous"} 1',
          'http_requests_total{method="GET",endpoint="/svc/orders",status_code="200",user_role="anonymous"} 1',
        ]);
      } finally {
        await app.stop();
      }
    });
  });

  describe('userRoleResolver and routeResolver', () => {
    let calls = 0;
    const m = withHttpMetrics({
      userRoleResolver: (req: IncomingMessage, res: ServerResponse) => {
        calls++;
        const h = req.headers['x-role'];
        if (h === 'throw') throw new Error('role lookup failed');
        if (h === 'number') return 42 as unknown as string;
        if (h === 'long') return 'r'.repeat(50);
        expect(res.statusCode).to.be.a('number');
        return typeof h === 'string' ? h : undefined;
      },
      routeResolver: (req: IncomingMessage) => {
        if (req.url === '/custom/1') return '/custom/:n';
        if (req.url === '/custom/throw') throw new Error('route lookup failed');
        if (req.url === '/custom/long') return '/' + 'y'.repeat(300);
        if (req.url === '/custom/junk') return 7 as unknown as string;
        return undefined;
      },
    });

    it('use the custom role, cut long ones, and fall back to anonymous on junk or throws, logging once', async () => {
      const app = await serve(hello);
      const lines: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      try {
        const as = (role: string) => ({ headers: { 'x-role': role } });
        await get(app.port, '/r', as('admin'));
        await get(app.port, '/r', as('throw'));
        await get(app.port, '/r', as('throw'));
        await get(app.port, '/r', as('number'));
        await get(app.port, '/r', as('long'));
        await get(app.port, '/r');
      } finally {
        process.stderr.write = write;
        await app.stop();
      }
      expect(calls).to.equal(6);
      expect(requestLines(await m.scrape())).to.deep.equal([
        'http_requests_total{method="GET",endpoint="/r",status_code="200",user_role="admin"} 1',
        'http_requests_total{method="GET",endpoint="/r",status_code="200",user_role="anonymous"} 4',
        `http_requests_total{method="GET",endpoint="/r",status_code="200",user_role="${'r'.repeat(32)}"} 1`,
      ]);
      const threw = lines.filter((l) => l.includes('userRoleResolver threw'));
      expect(threw).to.have.length(1);
      expect(threw[0]).to.match(/^\[vigil\] warn: userRoleResolver threw \(role lookup failed\)/);
      expect(lines.filter((l) => l.includes('userRoleResolver returned a number'))).to.have.length(1);
    });

    it('use the custom route, cut long ones, and ignore junk and throws, logging once', async () => {
      const app = await serve(hello);
      const logged: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => {
        logged.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      try {
        for (const p of ['/custom/1', '/custom/throw', '/custom/long', '/custom/junk', '/custom/2', '/custom/throw']) await get(app.port, p);
      } finally {
        process.stderr.write = write;
        await app.stop();
      }
      expect(logged.filter((l) => l.includes('routeResolver threw (route lookup failed)'))).to.have.length(1);
      expect(logged.filter((l) => l.includes('routeResolver returned a number, not a route'))).to.have.length(1);
      const lines = requestLines(await m.scrape()).map((l) => l.replace(/user_role="[^"]*"/, 'user_role=R'));
      expect(lines).to.deep.equal(
        [
          `http_requests_total{method="GET",endpoint="/${'y'.repeat(127)}",status_code="200",user_role=R} 1`,
          'http_requests_total{method="GET",endpoint="/custom/:id",status_code="200",user_role=R} 1',
          'http_requests_total{method="GET",endpoint="/custom/:n",status_code="200",user_role=R} 1',
          'http_requests_total{method="GET",endpoint="/custom/junk",status_code="200",user_role=R} 1',
          'http_requests_total{method="GET",endpoint="/custom/throw",status_code="200",user_role=R} 2',
        ].sort(),
      );
    });
  });

  describe('disable()', () => {
    const m = withHttpMetrics();

    it('stops counting new requests but still finishes those in flight', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const app = await serve((req, res) => {
        if (req.url === '/wait') void gate.then(() => res.end('late'));
        else res.end('now');
      });
      const i = instrumentation();
      try {
        const pending = get(app.port, '/wait');
        await waitFor(async () => inFlight(await m.scrape()) === 1);
        i.disable();
        await get(app.port, '/after-disable');
        release();
        await pending;
        const text = await m.scrape();
        expect(requestLines(text)).to.deep.equal(['http_requests_total{method="GET",endpoint="/wait",status_code="200",user_role="anonymous"} 1']);
        expect(inFlight(text)).to.equal(0);
      } finally {
        i.enable();
        await app.stop();
      }
      await sleep(0);
    });
  });
});
