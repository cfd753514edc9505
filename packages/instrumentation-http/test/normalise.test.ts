import { expect } from 'chai';
import { methodLabel, PathNormaliser, statusLabel } from '../src';
import { PathMatcher, TemplatePrefixer } from '../src/normalise';

function normaliser(overrides: Partial<ConstructorParameters<typeof PathNormaliser>[0]> = {}): PathNormaliser {
  return new PathNormaliser({ maxSegments: 8, maxSegmentLength: 64, prefixRules: [], cacheSize: 4096, ...overrides });
}

describe('path normaliser', () => {
  const table: [string, string][] = [
    ['/', '/'],
    ['', '/'],
    ['/?q=1', '/'],
    ['/health', '/health'],
    ['/health/', '/health'],
    ['//api///v1//chat/completions/', '/api/v1/chat/completions'],
    ['/users/123', '/users/:id'],
    ['/users/123?expand=orders&x=1', '/users/:id'],
    ['/users/123#top', '/users/:id'],
    ['/users/0/orders/77', '/users/:id/orders/:id'],
    ['/items/550e8400-e29b-41d4-a716-446655440000', '/items/:id'],
    ['/items/550E8400-E29B-41D4-A716-446655440000/parts', '/items/:id/parts'],
    ['/blobs/d41d8cd98f00b204e9800998ecf8427e', '/blobs/:id'],
    ['/docs/507f1f77bcf86cd799439011', '/docs/:id'], // Mongo ObjectId
    ['/commits/deadbeefcafebabe', '/commits/:id'], // 16 hex, no digits
    ['/u/alice@example.com/profile', '/u/:id/profile'],
    ['/u/alice%40example.com', '/u/:id'],
    ['/t/eyJhbGciOiJIUzI1NiJ9', '/t/:id'], // base64url
    ['/k/V1StGXR8_Z5jdHi6B-myT', '/k/:id'], // nanoid
    ['/k/01ARZ3NDEKTSV4RRFFQ69G5FAV', '/k/:id'], // ULID
    ['/invoices/INV-00042', '/invoices/:id'],
    ['/reports/2024-01-15', '/reports/:id'],
    ['/v1/models/gpt-4o', '/v1/models/gpt-4o'],
    ['/v2/oauth2/callback', '/v2/oauth2/callback'],
    ['/api/sha256/check', '/api/sha256/check'],
    ['/static/app.js', '/static/app.js'],
    ['/chat-completions-v2', '/chat-completions-v2'],
    ['/files/' + 'x'.repeat(65), '/files/:id'], // longer than maxSegmentLength
    ['/files/' + 'x'.repeat(64), '/files/' + 'x'.repeat(64)],
    ['/k/sk-proj-AbCdEf1GhIjKlMnOp', '/k/:id'], // API key: mixed case and digits
    ['/k/a1b2c3d4e5f6g7h8x9', '/k/:id'], // cuid-like, no separator
    ['/blog/the-quick-brown-fox-jumps', '/blog/the-quick-brown-fox-jumps'],
    ['/v1/models/gpt-4o-mini-2', '/v1/models/gpt-4o-mini-2'],
    ['/a/b/c/d/e/f/g/h', '/a/b/c/d/e/f/g/h'],
    ['/a/b/c/d/e/f/g/h/i/j', '/a/b/c/d/e/f/g/h/*'],
    ['/a/b/c/d/e/f/g/h/i?x', '/a/b/c/d/e/f/g/h/*'],
    ['http://example.com/users/42?x=1', '/users/:id'], // absolute-form (proxy request)
    ['http://example.com', '/'],
    ['*', '*'], // OPTIONS *
  ];
  for (const [path, template] of table) {
    it(`${JSON.stringify(path.length > 60 ? path.slice(0, 60) + '…' : path)} -> ${template.length > 40 ? template.slice(0, 40) + '…' : template}`, () => {
      expect(normaliser().normalise(path)).to.equal(template);
    });
  }

  it('gives the same answer from its cache, for a new string with the same text', () => {
    const n = normaliser();
    const first = n.normalise('/users/1/orders/2');
    const second = n.normalise(['/users', '99', 'orders', '12'].join('/'));
    expect(second).to.equal('/users/:id/orders/:id');
    expect(second).to.equal(first);
    expect(n.cached).to.equal(1);
    expect(n.normalise(['', 'api', 'v1', 'chat'].join('/'))).to.equal('/api/v1/chat');
    expect(n.normalise('/api/v1/chat')).to.equal('/api/v1/chat');
    expect(n.cached).to.equal(2);
  });

  it('tells apart templates whose characters differ only past a shared start', () => {
    const n = normaliser();
    const paths = ['/ab', '/ba', '/a/b', '/ab/', '/a:id', '/a/:id', '/a/1', '/a/b/*', '/a/b/c/d/e/f/g/h/i'];
    const got = paths.map((p) => n.normalise(p));
    expect(got).to.deep.equal(['/ab', '/ba', '/a/b', '/ab', '/a:id', '/a/:id', '/a/:id', '/a/b/*', '/a/b/c/d/e/f/g/h/*']);
    // asked again in reverse order, from the cache
    expect([...paths].reverse().map((p) => n.normalise(p))).to.deep.equal([...got].reverse());
  });

  it('keeps a URL scan of ids at one template, and its memory bounded for scans of words', () => {
    const n = normaliser({ cacheSize: 100 });
    for (let i = 0; i < 5000; i++) {
      expect(n.normalise(`/users/${i * 7919}/orders/${crypto.randomUUID()}?page=${i}`)).to.equal('/users/:id/orders/:id');
    }
    expect(n.cached).to.equal(1);
    for (let i = 0; i < 1000; i++) n.normalise(`/scan/word${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i / 26) | 0) % 26)}`);
    expect(n.cached).to.equal(100);
    // past the bound it still answers correctly, it just stops remembering
    expect(n.normalise('/scan/new-word')).to.equal('/scan/new-word');
    expect(n.cached).to.equal(100);
  });

  describe('prefix rules', () => {
    const n = normaliser({ prefixRules: ['/api/v1', '/svc/'] });
    const table: [string, string][] = [
      ['/api/v1/users/42/posts', '/api/v1/users'],
      ['/api/v1/users', '/api/v1/users'],
      ['/api/v1/42/x', '/api/v1/:id'],
      ['/api/v1', '/api/v1'],
      ['/api/v1/', '/api/v1'],
      ['/api/v2/users/42', '/api/v2/users/:id'],
      ['/api/v1x/users', '/api/v1x/users'],
      ['/svc/billing/a/b/c/d/e/f/g/h/i/j', '/svc/billing'],
      ['/other/path', '/other/path'],
    ];
    for (const [path, template] of table) {
      it(`${path} -> ${template}`, () => expect(n.normalise(path)).to.equal(template));
    }

    it('see past maxSegments to keep the one segment after the prefix', () => {
      const short = normaliser({ maxSegments: 2, prefixRules: ['/api/v1'] });
      expect(short.normalise('/api/v1/users/1')).to.equal('/api/v1/users');
      expect(short.normalise('/x/y/z')).to.equal('/x/y/*');
    });

    it('apply to framework templates too', () => {
      const p = new TemplatePrefixer(['/api/v1']);
      expect(p.apply('/api/v1/users/:id')).to.equal('/api/v1/users');
      expect(p.apply('/api/v1/:service/run')).to.equal('/api/v1/:service');
      expect(p.apply('/api/v1')).to.equal('/api/v1');
      expect(p.apply('/health')).to.equal('/health');
      expect(new TemplatePrefixer([]).active).to.equal(false);
    });
  });
});

describe('ignore paths', () => {
  const m = new PathMatcher(['/metrics', '/internal/*', '/healthz/']);
  const table: [string, boolean][] = [
    ['/metrics', true],
    ['/metrics?name[]=up', true],
    ['/metrics/', true],
    ['/metricsx', false],
    ['/metrics/x', false],
    ['/internal/', true],
    ['/internal/debug/vars', true],
    ['/internal', false],
    ['/healthz', true],
    ['/', false],
  ];
  for (const [path, ignored] of table) it(`${path} ${ignored ? 'is' : 'is not'} ignored`, () => expect(m.matches(path)).to.equal(ignored));
});

describe('label tables', () => {
  it('keeps the standard methods and folds the rest into _OTHER', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'QUERY']) expect(methodLabel(m)).to.equal(m);
    for (const m of ['PROPFIND', 'PURGE', 'get', 'M-SEARCH', '', undefined]) expect(methodLabel(m)).to.equal('_OTHER');
  });

  it('interns status codes', () => {
    expect(statusLabel(200)).to.equal('200');
    expect(statusLabel(599)).to.equal('599');
    expect(statusLabel(999)).to.equal('999');
    expect(statusLabel(99)).to.equal('0');
    expect(statusLabel(200.5)).to.equal('0');
    expect(statusLabel(Number.NaN)).to.equal('0');
  });
});
