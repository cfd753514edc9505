// The server of bench/memory.js: a node:http service whose requests each run one
// PostgreSQL query (pg.Pool) and one Redis GET + SET (ioredis), answering JSON —
// HTTP, pg and Redis metrics all recorded when vigil runs. Bounded cardinality:
// /api/users/<n> (one endpoint template), one table, two Redis commands.
// With BENCH_BUSINESS=1 (bench/soak.js) each request also records business
// metrics: the user active, a credits consumption, every 10th an AI task, every
// 50th an application error.
'use strict';
const http = require('node:http');
const { serveIpc, processStats } = require('./common');

const pg = require('pg');
const Redis = require('ioredis');

const pool = new pg.Pool({
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  password: process.env.PGPASSWORD,
  max: 4,
});
const redis = new Redis({ host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379), lazyConnect: false });
const prefix = `vigil:bench:mem:${process.pid}:`;
const business = process.env.BENCH_BUSINESS === '1' ? require('@vigil/business') : undefined;
let served = 0;

/** The business metrics of one request (bounded: one service, one component, ids never become labels). */
function recordBusiness(id) {
  served++;
  business.markActive(id);
  business.consumeCredits(1, { userRole: id % 7 === 0 ? 'vip' : 'user' });
  if (served % 10 === 0) business.trackAiTask('flux', () => id, { mode: 'fast' });
  if (served % 50 === 0) business.recordError(new Error(`user ${id} not found`), 'api');
}

const server = http.createServer(async (req, res) => {
  try {
    const m = /^\/api\/users\/(\d+)/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(404, { 'Content-Length': 0 }).end();
      return;
    }
    const id = Number(m[1]);
    const { rows } = await pool.query('SELECT $1::int AS id, now() AS at', [id]);
    const cached = await redis.get(prefix + id);
    if (cached === null) await redis.set(prefix + id, JSON.stringify(rows[0]), 'EX', 60);
    if (business) recordBusiness(id);
    const body = JSON.stringify({ id, at: rows[0].at, cached: cached !== null });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  } catch (err) {
    const body = String(err.message);
    res.writeHead(500, { 'Content-Length': Buffer.byteLength(body) }).end(body);
  }
});
server.keepAliveTimeout = 120_000;

serveIpc({
  stats: () => processStats(),
  gc: () => {
    global.gc?.();
    return processStats();
  },
});
const stop = async () => {
  server.close();
  await Promise.allSettled([pool.end(), redis.quit()]);
  process.exit(0);
};
process.on('SIGTERM', stop);

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
