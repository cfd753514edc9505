// The demo's traffic generator: a bounded stream of realistic and hostile
// requests against the gateway, so every metric vigil documents gets data.
//
//   node examples/ai-gateway/build/src/traffic.js [--target http://127.0.0.1:3000]
//        [--duration 60] [--rate 12] [--admin-token T] [--chaos]
//
// It registers a few users of its own, then runs weighted scenarios: chat
// completions on every model (JSON and streamed, some abandoned mid-stream),
// model lists, bad API keys, logins good and bad, registrations, purchases (some
// declined), credit transfers (pairs in opposite directions, which can deadlock),
// image tasks, uploads (some too large or of the wrong type), 404 scans and
// injection probes, bursts over the rate limit, health and stats. With --chaos
// (and the admin token) it also makes one channel fail now and then, so the
// gateway disables it and enables it again after its cool-down.
import { randomBytes } from 'node:crypto';

export interface TrafficOptions {
  /** The gateway's base URL. @default http://127.0.0.1:3000 */
  target?: string;
  /** Stop after this many seconds. @default until `signal` aborts */
  durationS?: number;
  /** Scenarios started per second (each is one to a few requests). @default 12 */
  rate?: number;
  /** ADMIN_TOKEN of the gateway: stats and chaos use it. @default none (those are skipped) */
  adminToken?: string;
  /** Make a random channel fail for a while every `chaosEveryS` seconds. @default false */
  chaos?: boolean;
  /** @default 90 */
  chaosEveryS?: number;
  /** Stops the traffic. */
  signal?: AbortSignal;
  /** Progress lines. @default none */
  log?: (line: string) => void;
  /** Users the generator registers for itself. @default 4 */
  users?: number;
  /** Scenarios running at once at most. @default 64 */
  maxInFlight?: number;
}

/** What was sent, so a test can check that none of it became a label value. */
export interface TrafficReport {
  scenarios: Record<string, number>;
  statuses: Record<string, number>;
  requests: number;
  networkErrors: number;
  /** The generator's users (email, API key and id): identifiers that must never be label values. */
  users: Array<{ email: string; apiKey: string; id: number }>;
  /** Other values sent that must never be label values. */
  secrets: string[];
}

interface TrafficUser {
  email: string;
  password: string;
  apiKey: string;
  id: number;
  credits: number;
  buying: boolean;
}

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-3.5-turbo', 'claude-3-5-sonnet', 'claude-3-haiku', 'deepseek-chat'];
const IMAGE_SERVICES = ['midjourney', 'flux', 'jimeng'];
const IMAGE_MODES = ['fast', 'relax', 'turbo'];
const SCANS = ['/.env', '/wp-login.php', '/.git/config', '/phpmyadmin/index.php', '/admin.php', '/server-status', '/actuator/env', '/backup.zip', '/old/index.html'];
const PROMPTS = [
  'Summarise the incident report in three bullet points.',
  'Write a haiku about latency percentiles.',
  'Translate "the channel is disabled" into French.',
  'Explain what a recording rule is to a new on-call engineer.',
  'List four causes of HTTP 429 responses.',
];

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

class Client {
  readonly report: TrafficReport = { scenarios: {}, statuses: {}, requests: 0, networkErrors: 0, users: [], secrets: [] };

  constructor(
    readonly base: string,
    readonly stop: AbortSignal,
  ) {}

  async send(path: string, init: RequestInit & { json?: unknown; token?: string; timeoutMs?: number } = {}): Promise<globalThis.Response | undefined> {
    const headers = new Headers(init.headers);
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    this.report.requests++;
    try {
      const res = await fetch(this.base + path, {
        ...init,
        headers,
        body,
        signal: init.signal ?? AbortSignal.timeout(init.timeoutMs ?? 20_000),
      });
      this.report.statuses[res.status] = (this.report.statuses[res.status] ?? 0) + 1;
      return res;
    } catch {
      this.report.networkErrors++;
      return undefined;
    }
  }

  /** Sends and reads the whole answer as JSON (undefined when it is not). */
  async json<T = Record<string, unknown>>(path: string, init: Parameters<Client['send']>[1] = {}): Promise<{ status: number; body: T | undefined; res?: globalThis.Response }> {
    const res = await this.send(path, init);
    if (!res) return { status: 0, body: undefined };
    const text = await res.text().catch(() => '');
    try {
      return { status: res.status, body: JSON.parse(text) as T, res };
    } catch {
      return { status: res.status, body: undefined, res };
    }
  }
}

/** Runs traffic until the duration passes or the signal aborts; resolves with what was sent. */
export async function runTraffic(options: TrafficOptions = {}): Promise<TrafficReport> {
  const stopper = new AbortController();
  const stop = stopper.signal;
  options.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
  if (options.signal?.aborted) stopper.abort();
  const durationTimer = options.durationS !== undefined ? setTimeout(() => stopper.abort(), options.durationS * 1000) : undefined;

  const client = new Client((options.target ?? 'http://127.0.0.1:3000').replace(/\/+$/, ''), stop);
  const log = options.log ?? (() => {});
  const runId = randomBytes(4).toString('hex');
  const users: TrafficUser[] = [];
  let abuser: TrafficUser | undefined;
  let registered = 0;
  let modelTurn = 0;
  const nextModel = () => MODELS[modelTurn++ % MODELS.length]!;
  let scans = 0;

  const register = async (): Promise<TrafficUser | undefined> => {
    const n = registered++;
    const email = `traffic-${runId}-${n}@example.test`;
    const password = `pw-${runId}-${n}-${randomBytes(4).toString('hex')}`;
    const r = await client.json<{ id: number; api_key: string; credits: number }>('/api/register', { method: 'POST', json: { email, password } });
    if (r.status !== 201 || !r.body) return undefined;
    const user: TrafficUser = { email, password, apiKey: r.body.api_key, id: r.body.id, credits: r.body.credits, buying: false };
    client.report.users.push({ email, apiKey: user.apiKey, id: user.id });
    client.report.secrets.push(password);
    return user;
  };

  const topUp = async (u: TrafficUser, amount = 2000): Promise<void> => {
    if (u.buying) return;
    u.buying = true;
    try {
      const r = await client.json<{ credits: number }>('/api/credits/purchase', { method: 'POST', token: u.apiKey, json: { amount, card: '4242424242424242' } });
      if (r.body?.credits !== undefined) u.credits = r.body.credits;
    } finally {
      u.buying = false;
    }
  };

  const someone = () => pick(users);
  const noteCredits = (u: TrafficUser, res: globalThis.Response | undefined) => {
    const left = Number(res?.headers.get('x-credits-remaining'));
    if (Number.isFinite(left) && res?.headers.has('x-credits-remaining')) u.credits = left;
    if (u.credits < 200) void topUp(u);
  };

  const chat = async (stream: boolean, abandon = false): Promise<void> => {
    const u = someone();
    const model = nextModel();
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(20_000);
    const res = await client.send('/v1/chat/completions', {
      method: 'POST',
      token: u.apiKey,
      json: { model, stream, messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: pick(PROMPTS) }] },
      signal: AbortSignal.any([controller.signal, timeout]),
    });
    noteCredits(u, res);
    if (!res?.body) return;
    if (abandon && res.ok) {
      // Read the first event, then close the connection, as a user closing the tab.
      const reader = res.body.getReader();
      await reader.read().catch(() => undefined);
      controller.abort();
      await reader.cancel().catch(() => undefined);
      return;
    }
    await res.arrayBuffer().catch(() => undefined);
  };

  type Scenario = { name: string; weight: number; run: () => Promise<void> };
  const scenarios: Scenario[] = [
    { name: 'chat_json', weight: 26, run: () => chat(false) },
    { name: 'chat_stream', weight: 20, run: () => chat(true) },
    { name: 'chat_stream_abandoned', weight: 2, run: () => chat(true, true) },
    {
      name: 'chat_unknown_model',
      weight: 1,
      run: async () => {
        await client.json('/v1/chat/completions', { method: 'POST', token: someone().apiKey, json: { model: 'gpt-9-ultra', messages: [{ role: 'user', content: 'hi' }] } });
      },
    },
    { name: 'models', weight: 3, run: async () => void (await client.json('/v1/models', { token: someone().apiKey })) },
    {
      name: 'bad_api_key',
      weight: 3,
      run: async () => {
        const key = `sk-${randomBytes(18).toString('base64url')}`;
        client.report.secrets.push(key);
        await client.json('/v1/chat/completions', { method: 'POST', token: key, json: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
      },
    },
    {
      name: 'login',
      weight: 3,
      run: async () => {
        const u = someone();
        const r = await client.json<{ token: string }>('/api/login', { method: 'POST', json: { email: u.email, password: u.password } });
        if (r.body?.token) {
          client.report.secrets.push(r.body.token);
          await client.json('/api/me', { token: r.body.token });
        }
      },
    },
    {
      name: 'login_wrong_password',
      weight: 2,
      run: async () => void (await client.json('/api/login', { method: 'POST', json: { email: someone().email, password: 'not-the-password' } })),
    },
    {
      name: 'login_unknown_user',
      weight: 1,
      run: async () => void (await client.json('/api/login', { method: 'POST', json: { email: `nobody-${randomBytes(3).toString('hex')}@example.test`, password: 'whatever-password' } })),
    },
    {
      name: 'register',
      weight: 1,
      run: async () => {
        const u = await register();
        if (u && users.length < 12) users.push(u);
      },
    },
    { name: 'purchase', weight: 2, run: () => topUp(someone(), 500) },
    {
      name: 'purchase_declined',
      weight: 1,
      run: async () => {
        const card = pick(['4000000000000002', '4000000000009995', '12ab']);
        await client.json('/api/credits/purchase', { method: 'POST', token: someone().apiKey, json: { amount: 500, card } });
      },
    },
    {
      name: 'transfer_pair',
      weight: 0.4,
      run: async () => {
        if (users.length < 2) return;
        const [a, b] = [users[0]!, users[1]!];
        // Two teammates sending each other credits at the same moment, three times: each
        // transfer locks its sender's row first, so opposite ones can deadlock (PostgreSQL
        // breaks it, the gateway retries, vigil counts db_deadlocks_total).
        for (let round = 0; round < 3 && !stop.aborted; round++) {
          await Promise.all(
            [a, b].map((from) => client.json('/api/credits/transfer', { method: 'POST', token: from.apiKey, json: { to_email: (from === a ? b : a).email, amount: 1 } })),
          );
        }
      },
    },
    {
      name: 'image_task',
      weight: 4,
      run: async () => {
        const u = someone();
        const r = await client.json<{ id: string }>('/api/images/generations', {
          method: 'POST',
          token: u.apiKey,
          json: { service: pick(IMAGE_SERVICES), mode: pick(IMAGE_MODES), prompt: 'a lighthouse over a calm sea, watercolour' },
        });
        if (r.status === 402) void topUp(u);
        if (!r.body?.id) return;
        await sleep(1500 + Math.random() * 4000, stop);
        await client.json(`/api/tasks/${r.body.id}`, { token: u.apiKey });
      },
    },
    {
      name: 'image_task_rejected',
      weight: 0.4,
      run: async () =>
        void (await client.json('/api/images/generations', {
          method: 'POST',
          token: someone().apiKey,
          json: { service: pick(IMAGE_SERVICES), mode: 'fast', prompt: 'a deepfake of a famous politician' },
        })),
    },
    {
      name: 'upload',
      weight: 2,
      run: async () => void (await client.json('/api/files', { method: 'POST', token: someone().apiKey, headers: { 'content-type': 'image/png' }, body: randomBytes(20_000) })),
    },
    {
      name: 'upload_too_large',
      weight: 1,
      run: async () => void (await client.json('/api/files', { method: 'POST', token: someone().apiKey, headers: { 'content-type': 'image/png' }, body: Buffer.alloc(1536 * 1024, 7) })),
    },
    {
      name: 'upload_wrong_type',
      weight: 1,
      run: async () =>
        void (await client.json('/api/files', { method: 'POST', token: someone().apiKey, headers: { 'content-type': 'application/x-msdownload' }, body: randomBytes(2048) })),
    },
    // in list order, as a scanner probes: the first scan is always one the app flags
    { name: 'scan', weight: 2, run: async () => void (await client.json(SCANS[scans++ % SCANS.length]!)) },
    {
      name: 'injection',
      weight: 1,
      run: async () => void (await client.json(`/api/tasks/1${encodeURIComponent("' OR '1'='1")}`, { token: someone().apiKey })),
    },
    {
      name: 'rate_limit_burst',
      weight: 0.5,
      run: async () => {
        // one client of its own hammers the API (so the others' requests are not refused with it)
        if (!abuser) return;
        const key = abuser.apiKey;
        // 45 at once: more than the limit (20 a second) fall into one second, wherever the second begins
        await Promise.all(Array.from({ length: 45 }, () => client.json('/v1/models', { token: key })));
      },
    },
    { name: 'health', weight: 2, run: async () => void (await client.json('/health')) },
    {
      name: 'stats',
      weight: 1,
      run: async () => {
        await client.json('/monitoring/stats'); // refused: no token
        if (options.adminToken) await client.json('/monitoring/stats', { token: options.adminToken });
      },
    },
    { name: 'admin_probe', weight: 0.5, run: async () => void (await client.json('/admin/channels', { token: 'guess' })) },
  ];
  const totalWeight = scenarios.reduce((s, x) => s + x.weight, 0);
  const choose = (): Scenario => {
    let r = Math.random() * totalWeight;
    for (const s of scenarios) if ((r -= s.weight) < 0) return s;
    return scenarios[0]!;
  };

  let inFlight = 0;
  const running = new Set<Promise<void>>();
  const launch = (s: Scenario) => {
    client.report.scenarios[s.name] = (client.report.scenarios[s.name] ?? 0) + 1;
    inFlight++;
    const p = s
      .run()
      .catch(() => undefined)
      .finally(() => {
        inFlight--;
        running.delete(p);
      });
    running.add(p);
  };

  // Users of our own, with credits.
  for (let i = 0; i < (options.users ?? 4) && !stop.aborted; i++) {
    const u = await register();
    if (u) users.push(u);
  }
  if (!stop.aborted) abuser = await register();
  if (users.length === 0) {
    clearTimeout(durationTimer);
    throw new Error(`traffic: could not register a user at ${client.base} (is the gateway running?)`);
  }
  await Promise.all(users.map((u) => topUp(u)));
  log(`traffic: ${users.length} users registered; running${options.durationS !== undefined ? ` for ${options.durationS} s` : ''} at ${options.rate ?? 12} scenarios/s`);

  // Every scenario once first (streams and JSON on every model), so each metric appears early.
  for (let i = 0; i < MODELS.length; i++) {
    launch({ name: 'chat_json', weight: 0, run: () => chat(false) });
    launch({ name: 'chat_stream', weight: 0, run: () => chat(true) });
  }
  for (const s of scenarios) launch(s);

  const chaos = options.chaos && options.adminToken ? startChaos(client, options.adminToken, options.chaosEveryS ?? 90, stop, log) : undefined;
  const progress = setInterval(() => {
    const s = client.report.statuses;
    const by = (lo: number, hi: number) => Object.entries(s).reduce((n, [k, v]) => (Number(k) >= lo && Number(k) < hi ? n + v : n), 0);
    log(`traffic: ${client.report.requests} requests (2xx ${by(200, 300)}, 4xx ${by(400, 500)}, 5xx ${by(500, 600)}, network errors ${client.report.networkErrors})`);
  }, 15_000);

  const rate = Math.max(0.1, options.rate ?? 12);
  const maxInFlight = options.maxInFlight ?? 64;
  while (!stop.aborted) {
    await sleep(1000 / rate, stop);
    if (stop.aborted) break;
    if (inFlight < maxInFlight) launch(choose());
  }
  clearInterval(progress);
  clearTimeout(durationTimer);
  await chaos;
  await Promise.all([...running]);
  return client.report;
}

/** Every `everyS` seconds, one random channel fails every request for 40 s, then recovers. */
async function startChaos(client: Client, token: string, everyS: number, stop: AbortSignal, log: (line: string) => void): Promise<void> {
  const channels = await client.json<Array<{ id: number; name: string }>>('/admin/channels', { token });
  if (!Array.isArray(channels.body) || channels.body.length === 0) return;
  while (!stop.aborted) {
    await sleep(everyS * 1000, stop);
    if (stop.aborted) return;
    const victim = pick(channels.body);
    log(`traffic: chaos: channel ${victim.name} fails every request for 40 s`);
    await client.json(`/admin/channels/${victim.id}/fault`, { method: 'POST', token, json: { mode: 'error' } });
    await sleep(40_000, stop);
    await client.json(`/admin/channels/${victim.id}/fault`, { method: 'POST', token, json: { mode: 'none' } });
    log(`traffic: chaos: channel ${victim.name} answers again (the gateway re-enables it after its cool-down test)`);
  }
}

/** Reads --name value / --flag arguments. */
export function parseArgs(argv: readonly string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) out[a.slice(2)] = argv[++i]!;
    else out[a.slice(2)] = true;
  }
  return out;
}

export function numberArg(args: Record<string, string | true>, name: string, env?: string): number | undefined {
  const raw = args[name] ?? (env ? process.env[env] : undefined);
  if (raw === undefined || raw === true || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number of seconds or a rate, not "${raw}"`);
  return n;
}

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  const stopper = new AbortController();
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => stopper.abort());
  runTraffic({
    target: typeof args.target === 'string' ? args.target : `http://127.0.0.1:${process.env.PORT || 3000}`,
    durationS: numberArg(args, 'duration', 'DEMO_DURATION'),
    rate: numberArg(args, 'rate', 'DEMO_RATE'),
    adminToken: typeof args['admin-token'] === 'string' ? args['admin-token'] : process.env.ADMIN_TOKEN,
    chaos: args.chaos === true,
    signal: stopper.signal,
    log: (line) => console.log(line),
  }).then(
    (r) => console.log(`traffic: done, ${r.requests} requests`),
    (e: Error) => {
      console.error(e.message);
      process.exitCode = 1;
    },
  );
}
