// Hostile-input fuzz (issue 9): the four functions that turn untrusted text
// into label values or decisions get random and malformed input. For every
// input: no exception (or, for the payload parser, only its documented
// PayloadError), bounded time, and an output inside the allowed label values.
import { expect } from 'chai';
import fc from 'fast-check';
import { analyzeStatement, OPERATIONS, TABLE_PATTERN } from '@vigil/instrumentation-pg';
import { DEFAULT_MAX_PATH_SEGMENT_LENGTH, DEFAULT_MAX_PATH_SEGMENTS, PathNormaliser } from '@vigil/instrumentation-http';
import { normalizeErrorMessage } from '@vigil/gateway';
// parsePayload is internal to the relay (its HTTP endpoint calls it); the package has no exports map.
import { parsePayload, PayloadError } from '@vigil/alert-relay/build/src/payload';

/** Generous per-input bound: catches catastrophic backtracking and runaway loops, not slowness. */
const PER_INPUT_MS = 50;
const RUNS = 1500;

/** Slowest single input seen per function (printed after the suite: the figures for the README). */
const slowest = new Map<string, number>();

function measure<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1e6];
}

/**
 * Runs fn(input), failing when it takes longer than PER_INPUT_MS twice in a row
 * (one slow run can be a GC pause or a busy machine; a hang or catastrophic
 * backtracking is slow every time). Returns the result.
 */
function timed<T>(what: string, input: unknown, fn: () => T): T {
  let [out, ms] = measure(fn);
  if (ms > PER_INPUT_MS) [out, ms] = measure(fn);
  if (ms > PER_INPUT_MS) {
    const shown = typeof input === 'string' ? `${input.length} chars: ${JSON.stringify(input.slice(0, 80))}` : JSON.stringify(input)?.slice(0, 120);
    throw new Error(`${what} took ${ms.toFixed(1)} ms (> ${PER_INPUT_MS} ms) on ${shown}`);
  }
  if (ms > (slowest.get(what) ?? 0)) slowest.set(what, ms);
  return out;
}

after(function () {
  const figures = [...slowest].map(([what, ms]) => `${what} ${ms.toFixed(2)} ms`).join(', ');
  if (process.env['VIGIL_RELIABILITY_REPORT']) console.log(`      slowest single input: ${figures}`);
});

// ---------------------------------------------------------------- input generators

const nasty = fc.constantFrom(
  '\u0000', '\u0007', '\b', '\t', '\n', '\r', '\u001b[31m', '\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\ufffd',
  '\ud800', '\udfff', '\ud83d\ude00', '\u202e', '\u0301', 'é', '表', '%00', '%2F', '%40', '%', '\\', '"', "'", '`',
  '\u201c', '\u201d', '$', '$$', '$a$', '/*', '*/', '--', ';', '(', ')', ',', '.', '?', '#', '@', '//', '/../', ' ',
);

/** Strings mixing random unicode with the characters parsers care about. */
function hostile(words: readonly string[], maxLength = 60): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), nasty, fc.constantFrom(...words), fc.stringMatching(/^[0-9a-fA-F-]{1,40}$/)), { maxLength })
    .map((parts) => parts.join(''));
}

/** Big inputs built from one repeated unit (where backtracking and unbounded scans show). */
function huge(units: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...units), fc.integer({ min: 1_000, max: 120_000 }), fc.string({ maxLength: 10 })).map(([u, n, tail]) => u.repeat(Math.ceil(n / u.length)) + tail);
}

// ---------------------------------------------------------------- SQL table extractor

const SQL_WORDS = [
  'SELECT ', 'select', ' FROM ', 'from', 'INSERT INTO ', 'UPDATE ', 'DELETE FROM ', 'WITH ', ' AS ', 'MERGE INTO ', 'USING ',
  'JOIN ', 'WHERE ', 'VALUES ', 'users', 'public.', '"Order ""x"""', '"', "'", "E'\\''", "''", '$1', '$tag$', '$$', '/*', '*/',
  '/* /* */', '--', '\n', '(', ')', ',', ';', 'LATERAL ', 'ONLY ', 'TABLE ', 'COPY ', 'CALL ', 'DO ', 'BEGIN', 'SET ',
  'generate_series(1,3)', 'u&"x"', 'x', '1', '.', '*',
];

function checkStatement(text: string): void {
  const info = timed('analyzeStatement', text, () => analyzeStatement(text));
  expect(OPERATIONS as readonly string[], `operation for ${JSON.stringify(text.slice(0, 80))}`).to.include(info.operation);
  expect(info.table, `table for ${JSON.stringify(text.slice(0, 80))}`).to.match(TABLE_PATTERN);
}

describe('reliability: fuzz the SQL table extractor (analyzeStatement)', function () {
  it('random unicode and binary text: no throw, bounded time, operation in OPERATIONS, table matches TABLE_PATTERN', function () {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (s) => checkStatement(s)), { numRuns: RUNS });
  });

  it('SQL-shaped token soup (nested/unterminated comments, quotes, dollar quotes, parentheses)', function () {
    fc.assert(fc.property(hostile(SQL_WORDS, 120), (s) => checkStatement(s)), { numRuns: RUNS * 2 });
  });

  it('huge inputs: 100 kB of open comments, quotes, parentheses, CTEs and identifiers', function () {
    const units = ['/*', "'", '"', '$a$', '(', 'SELECT (', 'WITH a AS (', 'x.', 'a', '--\n', ' ', 'é', '\ud800', 'SELECT * FROM t JOIN '];
    fc.assert(fc.property(huge(units), fc.constantFrom('', 'SELECT * FROM ', 'WITH x AS ('), (s, prefix) => checkStatement(prefix + s)), { numRuns: 60 });
  });

  it('non-string input gives { other, unknown } without throwing', function () {
    for (const v of [undefined, null, 42, {}, [], Symbol('x'), () => 1, { toString: () => { throw new Error('x'); } }]) {
      const info = analyzeStatement(v);
      expect(info).to.deep.equal({ operation: 'other', table: 'unknown' });
    }
  });

  it('no literal or parameter reaches the table label', function () {
    // A table label is read from identifier tokens only: secrets placed in literals, comments and parameters never show.
    const secret = fc.stringMatching(/^[a-z][a-z0-9]{11,20}$/);
    fc.assert(
      fc.property(secret, fc.constantFrom("SELECT * FROM t WHERE a = '§'", 'SELECT * FROM /* § */ t', "INSERT INTO t VALUES ('§')", 'UPDATE t SET a = $$§$$', 'DELETE FROM t -- §', "SELECT '§' FROM t"), (s, tpl) => {
        const info = analyzeStatement(tpl.replace('§', s));
        expect(info.table).to.equal('t');
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------- URL / path normaliser

const PATH_WORDS = [
  '/', '//', '/api', '/v1', '/users', '/123', '/0', '/2024-01-02', '/550e8400-e29b-41d4-a716-446655440000', '/a@b.co', '/x%40y.io',
  '/eyJhbGciOiJIUzI1NiJ9', '/sk-AbCdEf0123456789xyz', '/deadbeefdeadbeefcafe', '/chat-completions-v2', '/gpt-4o', '?', '?a=1', '#',
  '#frag', '..', '.', '%2F', '%', '*', 'http://h', 'https://h:80', '://',
];

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** A plain email as it appears in a URL or a message (fast-check's RFC 5322 emails carry '/', '?', '#', '!' in the local part). */
const plainEmail = fc.stringMatching(/^[a-z0-9][a-z0-9._+-]{0,19}@[a-z0-9][a-z0-9-]{0,9}(\.[a-z]{2,5}){1,2}$/);

/** The template rules: '/', '*' or '/seg(/seg)*(/*)?' with at most maxSegments segments, each ':id' or a bounded literal without an id shape. */
function checkTemplate(t: string, url: string, maxSegments: number, maxSegmentLength: number): void {
  const at = `template ${JSON.stringify(t.slice(0, 100))} of ${JSON.stringify(url.slice(0, 100))}`;
  if (t === '/' || t === '*') return;
  expect(t.startsWith('/'), at).to.equal(true);
  const segs = t.slice(1).split('/');
  // a trailing '*' is the "more segments" marker (or a literal '*' segment, as in '/*')
  if (segs.length > 1 && segs[segs.length - 1] === '*') segs.pop();
  expect(segs.length, at).to.be.within(1, maxSegments);
  for (const seg of segs) {
    expect(seg, at).not.to.match(/[?#]/);
    if (seg === ':id') continue;
    expect(seg.length, at).to.be.within(1, maxSegmentLength);
    expect(seg, `${at}: digits-only segment`).not.to.match(/^\d+$/);
    expect(seg, `${at}: 4+ digits`).not.to.match(/(?:\d[^\d]*){4}/);
    expect(seg, `${at}: email`).not.to.match(/@|%40/);
    expect(seg, `${at}: uuid`).not.to.match(UUID);
    expect(seg, `${at}: long hex`).not.to.match(/^[0-9a-fA-F]{16,}$/);
  }
}

describe('reliability: fuzz the URL path normaliser (PathNormaliser)', function () {
  const configs = [
    { maxSegments: DEFAULT_MAX_PATH_SEGMENTS, maxSegmentLength: DEFAULT_MAX_PATH_SEGMENT_LENGTH, prefixRules: [] as string[] },
    { maxSegments: 3, maxSegmentLength: 10, prefixRules: ['/api/v1', '/static/'] },
    { maxSegments: 64, maxSegmentLength: 1, prefixRules: ['/a'] },
  ];
  for (const cfg of configs) {
    const label = `maxSegments ${cfg.maxSegments}, maxSegmentLength ${cfg.maxSegmentLength}, rules ${JSON.stringify(cfg.prefixRules)}`;
    it(`random and path-shaped targets stay bounded templates (${label})`, function () {
      const n = new PathNormaliser({ ...cfg, cacheSize: 256 });
      const check = (url: string): void => {
        const t = timed('PathNormaliser.normalise', url, () => n.normalise(url));
        checkTemplate(t, url, cfg.maxSegments, cfg.maxSegmentLength);
        // the same input gives the same template, whether or not it is cached now
        expect(n.normalise(url)).to.equal(t);
      };
      fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), check), { numRuns: RUNS });
      fc.assert(fc.property(hostile(PATH_WORDS, 80), check), { numRuns: RUNS * 2 });
      fc.assert(fc.property(fc.webPath(), check), { numRuns: RUNS });
      fc.assert(fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), check), { numRuns: RUNS });
      expect(n.cached).to.be.at.most(256);
    });
  }

  it('huge and deep targets (100 kB segments, 50 000 segments, 100 kB of slashes) finish in bounded time', function () {
    const n = new PathNormaliser({ maxSegments: DEFAULT_MAX_PATH_SEGMENTS, maxSegmentLength: DEFAULT_MAX_PATH_SEGMENT_LENGTH, prefixRules: ['/api/v1'], cacheSize: 64 });
    const units = ['/a', '/1', '/', 'a', '%', '?', '/é', '/\ud800', '/api/v1/x', 'http://h/'];
    fc.assert(
      fc.property(huge(units), (url) => {
        const t = timed('PathNormaliser.normalise', url, () => n.normalise(url));
        checkTemplate(t, url, DEFAULT_MAX_PATH_SEGMENTS, DEFAULT_MAX_PATH_SEGMENT_LENGTH);
        expect(t.length).to.be.at.most(DEFAULT_MAX_PATH_SEGMENTS * (DEFAULT_MAX_PATH_SEGMENT_LENGTH + 1) + 2);
      }),
      { numRuns: 60 },
    );
  });

  it('100 000 distinct id-bearing paths produce a handful of templates', function () {
    const n = new PathNormaliser({ maxSegments: DEFAULT_MAX_PATH_SEGMENTS, maxSegmentLength: DEFAULT_MAX_PATH_SEGMENT_LENGTH, prefixRules: [], cacheSize: 10_000 });
    const seen = new Set<string>();
    const rnd = fc.sample(fc.tuple(fc.nat(), fc.uuid(), plainEmail, fc.stringMatching(/^[A-Za-z0-9_-]{20,40}$/)), { numRuns: 2_000, seed: 9 });
    for (let i = 0; i < 100_000; i++) {
      const [num, uuid, email, token] = rnd[i % rnd.length]!;
      const shapes = [`/users/${num + i}`, `/orders/${uuid}`, `/u/${email}/x`, `/k/${token}A1b2`, `/items/${i}?q=${token}`];
      seen.add(n.normalise(shapes[i % shapes.length]!));
    }
    expect([...seen].sort()).to.deep.equal(['/items/:id', '/k/:id', '/orders/:id', '/u/:id/x', '/users/:id']);
  });
});

// ---------------------------------------------------------------- gateway error-message normaliser

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function checkMessage(input: unknown, maxLength?: number): string {
  const out = timed('normalizeErrorMessage', input, () => normalizeErrorMessage(input, maxLength));
  const at = `normalised ${JSON.stringify(out)} of ${JSON.stringify(String(input).slice(0, 80))}`;
  expect(out, at).to.be.a('string');
  expect(out.length, at).to.be.within(1, maxLength ?? 100);
  expect(out, `${at}: control characters`).not.to.match(/[\u0000-\u001f\u007f]/);
  expect(out, `${at}: untrimmed or uncollapsed whitespace`).not.to.match(/^\s|\s$|\s\s/);
  // a well-formed input never ends up cut inside a surrogate pair
  if (typeof input === 'string' && !LONE_SURROGATE.test(input)) expect(LONE_SURROGATE.test(out), `${at}: cut inside a surrogate pair`).to.equal(false);
  return out;
}

const MESSAGE_WORDS = [
  'Error: ', 'rate limit exceeded for ', 'https://api.example.com/v1/x?key=', 'user@example.com', '550e8400-e29b-41d4-a716-446655440000',
  '2024-05-01T10:00:00Z', '10.0.0.1:443', '"quoted value"', "'single'", '`tick`', '\u201cfancy\u201d', 'sk-abc123def456', 'req_9f8e7d6c',
  '0xdeadbeef', 'deadbeef01', '12345', '3.14', 'tokens', ' ', '\n', '\t', '.', '-', '_', '@', '"', "'", '`',
];

describe('reliability: fuzz the gateway error-message normaliser (normalizeErrorMessage)', function () {
  it('random unicode and binary text: no throw, bounded time, ≤ 100 chars, no control characters, whitespace collapsed', function () {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 1000 }), (s) => void checkMessage(s)), { numRuns: RUNS });
  });

  it('message-shaped soup of urls, emails, ids, quotes and numbers', function () {
    fc.assert(fc.property(hostile(MESSAGE_WORDS, 150), fc.option(fc.integer({ min: 8, max: 300 }), { nil: undefined }), (s, max) => void checkMessage(s, max)), { numRuns: RUNS * 2 });
  });

  it('huge inputs built to backtrack (100 kB of word chars, dots, @, quotes, hex, digits)', function () {
    const units = ['a', 'a.', 'a@', 'a@b.', '1', '1.', '"', "'a", '`', '\u201c', 'sk-', 'a1', 'f0', '0x', '-', 'http://', ' ', '\ud800'];
    fc.assert(fc.property(huge(units), (s) => void checkMessage(s)), { numRuns: 80 });
  });

  it('non-string input (objects, errors, symbols-free values) is stringified safely', function () {
    for (const v of [undefined, null, 0, -1.5, NaN, {}, [], new Error('boom 42'), { toString: () => 'x 123' }, true]) checkMessage(v);
  });

  it('secrets between spaces never survive: emails, UUIDs, numbers, urls, vendor ids, IPs', function () {
    const secrets = fc.oneof(
      plainEmail,
      fc.uuid(),
      fc.bigInt({ min: 10n, max: 10n ** 18n }).map(String),
      fc.webUrl().filter((u) => u.length < 80),
      fc.stringMatching(/^(sk|req|chatcmpl|user)-[A-Za-z0-9]{8,30}$/),
      fc.ipV4(),
    );
    const words = fc.array(fc.constantFrom('error', 'upstream', 'failed', 'for', 'rate', 'limit', 'request'), { maxLength: 6 }).map((w) => w.join(' '));
    fc.assert(
      fc.property(words, secrets, words, (before, secret, after) => {
        const out = checkMessage(`${before} ${secret} ${after}`);
        expect(out, `${JSON.stringify(secret)} leaked into ${JSON.stringify(out)}`).not.to.include(secret);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------- alert relay payload parser

function validPayload(): Record<string, unknown> {
  return {
    version: '4',
    groupKey: '{}:{alertname="X"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'r',
    groupLabels: { alertname: 'X' },
    commonLabels: { alertname: 'X', severity: 'critical' },
    commonAnnotations: { summary: 's' },
    externalURL: 'http://am:9093',
    alerts: [{ status: 'firing', labels: { alertname: 'X' }, annotations: {}, startsAt: '2024-01-01T00:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: '', fingerprint: 'abc' }],
  };
}

/** parsePayload either returns a payload or throws a PayloadError (the 400 reason); nothing else escapes. */
function checkPayload(body: unknown): void {
  try {
    const p = timed('parsePayload', body, () => parsePayload(body));
    expect(p.version).to.equal('4');
    expect(['firing', 'resolved']).to.include(p.status);
    expect(p.alerts.length).to.be.at.least(1);
    for (const a of p.alerts) {
      expect(a.labels['alertname']).to.be.a('string').and.not.equal('');
      for (const v of Object.values(a.labels)) expect(v).to.be.a('string');
      expect(Number.isNaN(Date.parse(a.startsAt))).to.equal(false);
    }
  } catch (err) {
    if (!(err instanceof PayloadError)) throw new Error(`parsePayload threw ${String(err)} (not a PayloadError) on ${JSON.stringify(body)?.slice(0, 200)}`);
    expect(err.message).to.be.a('string').and.not.equal('');
  }
}

/** A valid payload with one field replaced by a random value at a random path. */
const mutated = fc
  .tuple(
    fc.constantFrom('version', 'status', 'alerts', 'truncatedAlerts', 'groupKey', 'receiver', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'alerts.0', 'alerts.0.labels', 'alerts.0.labels.alertname', 'alerts.0.startsAt', 'alerts.0.endsAt', 'alerts.0.status', 'alerts.0.annotations', 'alerts.0.fingerprint', 'alerts.0.generatorURL'),
    fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom(undefined, null, '', '4', 4, -1, 1.5, 'firing', 'not a date', '2024-13-45T99:99:99Z', [], {}, { alertname: '' }, '\u0000', 'x'.repeat(100_000))),
  )
  .map(([path, value]) => {
    const p = validPayload();
    const keys = path.split('.');
    let o: Record<string, unknown> = p;
    for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
    o[keys[keys.length - 1]!] = value;
    return p;
  });

describe('reliability: fuzz the alert relay payload parser (parsePayload)', function () {
  it('the valid payload parses (the generators below start from it)', function () {
    expect(parsePayload(validPayload()).alerts[0]!.labels['alertname']).to.equal('X');
  });

  it('arbitrary JSON values: a payload or a PayloadError, never another exception, bounded time', function () {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), checkPayload), { numRuns: RUNS });
    fc.assert(fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }), checkPayload), { numRuns: RUNS });
  });

  it('valid payloads with one field mutated (wrong types, huge strings, bad times, empty alertname)', function () {
    fc.assert(fc.property(mutated, checkPayload), { numRuns: RUNS * 2 });
  });

  it('JSON text from the wire: garbage, truncated and deeply nested bodies end in a PayloadError or a JSON SyntaxError', function () {
    const text = JSON.stringify(validPayload());
    const bodies = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
      fc.integer({ min: 1, max: 5_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.integer({ min: 1, max: 5_000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
    );
    fc.assert(
      fc.property(bodies, (body) => {
        let value: unknown;
        try {
          value = JSON.parse(body);
        } catch (err) {
          expect(err).to.be.instanceOf(SyntaxError);
          return;
        }
        checkPayload(value);
      }),
      { numRuns: RUNS },
    );
  });

  it('many alerts with many labels (10 000 alerts) parse in bounded time', function () {
    const p = validPayload();
    const alert = (p['alerts'] as unknown[])[0] as Record<string, unknown>;
    const labels: Record<string, string> = { alertname: 'X' };
    for (let i = 0; i < 50; i++) labels[`l${i}`] = 'v'.repeat(20);
    p['alerts'] = Array.from({ length: 10_000 }, () => ({ ...alert, labels }));
    const t0 = Date.now();
    expect(parsePayload(p).alerts).to.have.length(10_000);
    expect(Date.now() - t0).to.be.below(2_000);
  });
});
