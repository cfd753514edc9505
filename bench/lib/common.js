// Shared helpers of the vigil benchmarks: options, statistics, Markdown tables,
// child processes with an IPC channel, free ports, a lean HTTP load generator,
// the results files, and instruction counts under callgrind.
'use strict';
const { execFileSync, fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const RESULTS_DIR = path.join(ROOT, 'bench', 'results');

/** `--name value` from argv, else fallback (numbers when fallback is a number). */
function opt(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || i + 1 >= process.argv.length) return fallback;
  const v = process.argv[i + 1];
  return typeof fallback === 'number' ? Number(v) : v;
}
const flag = (name) => process.argv.includes(`--${name}`);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Percentile (nearest rank) of a typed or plain array of numbers; sorts a copy. */
function percentile(xs, p) {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Least-squares slope of y over x. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

/** The first and third quartiles of `xs`: the middle half of a set of ratios. */
function middleHalf(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor((s.length - 1) / 4)], s[Math.ceil(((s.length - 1) * 3) / 4)]];
}

/**
 * A 95% confidence interval of the median of `xs` that assumes nothing about their distribution:
 * the order statistics x(k) and x(n+1-k), with k the largest for which at most 2.5% of the
 * binomial(n, 1/2) distribution of "values below the median" lies under k. [NaN, NaN] for fewer
 * than 6 values.
 */
function medianInterval(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  // In logs: 0.5^n underflows past n = 1074.
  let logP = n * Math.log(0.5); // P(X = 0)
  let below = Math.exp(logP); // P(X <= k)
  let k = 0;
  while (below <= 0.025 && k < n / 2) {
    k++;
    logP += Math.log(n - k + 1) - Math.log(k);
    below += Math.exp(logP);
  }
  return k === 0 ? [NaN, NaN] : [s[k - 1], s[n - k]];
}

/** Median over rounds of contender / baseline, pairing each round's values. */
function medianRatio(values, baseValues) {
  return median(values.map((v, i) => v / baseValues[i]));
}

const fmt = {
  int: (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—'),
  f1: (n) => (Number.isFinite(n) ? n.toFixed(1) : '—'),
  f2: (n) => (Number.isFinite(n) ? n.toFixed(2) : '—'),
  f3: (n) => (Number.isFinite(n) ? n.toFixed(3) : '—'),
  pct: (r) => (Number.isFinite(r) ? `${(r * 100).toFixed(1)}%` : '—'),
  /** A ratio as a signed change: 1.052 -> "+5.2%". */
  delta: (r) => (Number.isFinite(r) ? `${r >= 1 ? '+' : '−'}${Math.abs((r - 1) * 100).toFixed(1)}%` : '—'),
  /** The middle half of a set of ratios: "96% – 102%". */
  middleHalf: (ratios) => middleHalf(ratios).map((r) => `${(r * 100).toFixed(0)}%`).join(' – '),
  /** The 95% confidence interval of the ratios' median (medianInterval). */
  medianInterval: (ratios) => medianInterval(ratios).map((r) => fmt.pct(r)).join(' – '),
  /** A value against its baseline: (1,052, 1,000) -> "+52 (+5.2%)". */
  added: (v, base) => `${v >= base ? '+' : '−'}${fmt.int(Math.abs(v - base))} (${fmt.delta(v / base)})`,
  signed: (n, digits = 1) => (Number.isFinite(n) ? `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}` : '—'),
  mb: (bytes) => (Number.isFinite(bytes) ? (bytes / 1048576).toFixed(1) : '—'),
  ms: (n) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) : '—'),
};

/** A Markdown table from a header row and rows of cells; columns from `align` ('l' or 'r'). */
function table(header, rows, align) {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${header.join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function machine() {
  const cpus = os.cpus();
  return `Node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} CPUs (${cpus[0]?.model?.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB RAM, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end of the run`;
}

/**
 * Writes bench/results/<name>.md (the latest results of one benchmark, printed too) and,
 * with `data`, bench/results/<name>.json (the numbers the README's target table reads).
 */
function writeResults(name, title, command, body, data) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  const text = `### ${title}\n\n\`${command}\` — ${when}; ${machine()}.\n\n${body.trim()}\n`;
  fs.writeFileSync(path.join(RESULTS_DIR, `${name}.md`), text);
  if (data) fs.writeFileSync(path.join(RESULTS_DIR, `${name}.json`), `${JSON.stringify({ command, when, machine: machine(), ...data }, null, 2)}\n`);
  process.stdout.write(`\n${text}\n`);
  return text;
}

/** A port the OS reports free right now (for servers that cannot announce theirs). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Forks a Node child with an IPC channel. `execArgv` carries preloads
 * (`--require ...`); the child answers `{ type: 'ready', ... }` once it listens.
 * `execPath` runs it through another program (valgrind: see callgrindNode).
 */
function spawnChild(script, { args = [], execArgv = [], env = {}, quiet = false, execPath } = {}) {
  const child = fork(script, args, {
    cwd: ROOT,
    execPath,
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  const ready = new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m && m.type === 'ready') {
        child.off('exit', onExit);
        resolve(m);
      } else child.once('message', onMessage);
    };
    const onExit = (code) => reject(new Error(`${path.basename(script)} ${args.join(' ')} exited with ${code} before it was ready:\n${stderr}`));
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
  return { child, ready, stderr: () => stderr };
}

let nextId = 1;
/** Sends `{ type, ...payload, id }` to a child and resolves with its answer of the same id. */
function ask(child, type, payload = {}, timeoutMs = 120_000) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no answer to ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m && m.id === id) {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (m.error) reject(new Error(m.error));
        else resolve(m);
      }
    };
    child.on('message', onMessage);
    child.send({ type, id, ...payload });
  });
}

/** Ends a child politely, then firmly. */
function stopChild(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** In a child: answers `{ type, id }` messages with handler(type, msg) (sync or async). */
function serveIpc(handlers) {
  process.on('message', async (m) => {
    if (!m || typeof m.type !== 'string' || m.id === undefined) return;
    const h = handlers[m.type];
    try {
      if (!h) throw new Error(`unknown request ${m.type}`);
      const r = await h(m);
      process.send({ ...r, id: m.id });
    } catch (err) {
      process.send({ id: m.id, error: String(err?.stack ?? err) });
    }
  });
}

/** The process's own CPU time (user + system) in µs, and memory. */
function processStats() {
  const c = process.cpuUsage();
  const m = process.memoryUsage();
  return { cpu: c.user + c.system, user: c.user, system: c.system, rss: m.rss, heapUsed: m.heapUsed };
}

/**
 * Sends `total` GET requests (to `path`, or to each of `paths` in turn) over `connections` keep-alive sockets with one
 * request in flight per socket, and resolves with the wall time (ns). Responses must carry
 * Content-Length (every server of these benchmarks sends it). Latency runs use serialConnection.
 */
function load(port, { total, connections = 8, path: reqPath = '/', paths, headers = '' }) {
  // `paths`: request targets sent in turn (a shuffled list gives a realistic mix of label sets).
  const requests = (paths ?? [reqPath]).map((p) => Buffer.from(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`, 'latin1'));
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    let failed = false;
    const sockets = [];
    const t0 = process.hrtime.bigint();
    const finish = (err) => {
      if (failed) return;
      failed = true;
      for (const x of sockets) x.destroy();
      if (err) reject(err);
      else resolve({ ns: Number(process.hrtime.bigint() - t0) });
    };
    for (let c = 0; c < Math.min(connections, total); c++) {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let buf = null;
      let statusChecked = 0;
      const next = () => {
        if (sent < total) s.write(requests[sent++ % requests.length]);
      };
      s.on('connect', next);
      s.on('data', (d) => {
        buf = buf === null ? d : Buffer.concat([buf, d]);
        for (;;) {
          let end;
          try {
            end = responseEnd(buf, statusChecked < 2);
          } catch (err) {
            return finish(err);
          }
          if (end < 0) break;
          statusChecked++;
          buf = end === buf.length ? null : buf.subarray(end);
          done++;
          if (done === total) return finish();
          next();
          if (buf === null) break;
        }
      });
      s.on('error', finish);
      s.on('close', () => {
        if (done < total) finish(new Error(`connection closed after ${done}/${total} responses`));
      });
      sockets.push(s);
    }
  });
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Where the first whole response in buf ends (the servers here frame every body with Content-Length), or -1. */
function responseEnd(buf, checkStatus) {
  const h = buf.indexOf(CRLF2);
  if (h < 0) return -1;
  const head = buf.toString('latin1', 0, h);
  const m = /content-length: *(\d+)/i.exec(head);
  if (!m) throw new Error(`response without Content-Length:\n${head}`);
  const end = h + 4 + Number(m[1]);
  if (buf.length < end) return -1;
  if (checkStatus && !head.startsWith('HTTP/1.1 200')) throw new Error(`unexpected response: ${head.split('\r\n')[0]}`);
  return end;
}

/**
 * One keep-alive connection to 127.0.0.1:port that sends GET reqPath one request at a time:
 * `send()` resolves with that request's latency in ms. For latency runs that take turns between servers.
 */
function serialConnection(port, reqPath) {
  const request = Buffer.from(`GET ${reqPath} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    let buf = null;
    let pending = null;
    let sentAt = 0n;
    const fail = (err) => {
      s.destroy();
      if (pending) pending.reject(err);
      pending = null;
    };
    s.on('data', (d) => {
      buf = buf === null ? d : Buffer.concat([buf, d]);
      let end;
      try {
        end = responseEnd(buf, true);
      } catch (err) {
        return fail(err);
      }
      if (end < 0) return;
      buf = end === buf.length ? null : buf.subarray(end);
      const p = pending;
      pending = null;
      p?.resolve(Number(process.hrtime.bigint() - sentAt) / 1e6);
    });
    s.on('error', (err) => (pending ? fail(err) : reject(err)));
    s.on('close', () => fail(new Error('connection closed')));
    s.on('connect', () =>
      resolve({
        send: () =>
          new Promise((res, rej) => {
            pending = { resolve: res, reject: rej };
            sentAt = process.hrtime.bigint();
            s.write(request);
          }),
        close: () => s.destroy(),
      }),
    );
  });
}

/** GET a URL on 127.0.0.1; resolves with status, headers, body (Buffer) and time to last byte (ms). */
function get(port, reqPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: reqPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Sum of the values of every sample of `metric` (exact name) in a Prometheus text. */
function sumSamples(text, metric) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const c = line.charAt(metric.length);
    if (c !== '{' && c !== ' ') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : undefined;
}

// ---------------------------------------------------------------- instructions under callgrind

/**
 * `valgrind` arguments that run this Node under callgrind, up to the script: counters are
 * dumped to `<out>.1`, `<out>.2`, ... each time the process enters process._getActiveHandles()
 * (the window marker: nothing else in the benchmarks' processes calls it while they count), and
 * V8 is made deterministic: no background threads, fixed hash and random seeds, a fixed
 * young generation.
 */
function callgrindNode(out) {
  return [
    '--tool=callgrind', '--smc-check=all-non-file', '--dump-before=node::GetActiveHandles*', `--callgrind-out-file=${out}`,
    process.execPath,
    '--single-threaded', '--hash-seed=1', '--random-seed=1', '--min-semi-space-size=8', '--max-semi-space-size=8',
  ];
}

/**
 * Runs `node ...args` under callgrind (callgrindNode: counters dumped whenever the child calls
 * process._getActiveHandles()) and gives its stdout and the instructions of dump 2, the window
 * between its first two marks. The dumps (`out`.*) are removed.
 */
function callgrindChild(out, args, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn('valgrind', [...callgrindNode(out), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (e) => reject(new Error(`valgrind: ${e.message} (the Debian package valgrind provides it)`)));
    p.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`${path.basename(out)} exited with ${code}:\n${stderr.slice(-2000)}`);
        resolve({ stdout, ...callgrindWindow(`${out}.2`) });
      } catch (e) {
        reject(e);
      } finally {
        const dir = path.dirname(out);
        for (const f of fs.readdirSync(dir)) if (f.startsWith(path.basename(out))) fs.rmSync(path.join(dir, f));
      }
    });
  });
}

/** The JSON report a benchmark child prints as its last line of stdout. */
function lastJsonLine(stdout) {
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** Runs `node ...args` (cwd: the repository) and resolves with its report (lastJsonLine); `what` names it in errors. */
function nodeChild(args, what, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${what} exited with ${code}`));
      try {
        resolve(lastJsonLine(out));
      } catch {
        reject(new Error(`bad output from ${what}: ${out}`));
      }
    });
  });
}

/** Runs `run(task)` for every task, at most `jobs` at a time, in the tasks' order. */
async function eachAtMost(jobs, tasks, run) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await run(tasks[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
}

/** Functions of a major (mark-compact) collection, and libc's allocator (V8's compiler and Node's
 * write requests): events that land in one run's window and not another's. Left out of "steady". */
const LUMPY = /MarkCompact|Marking|Sweep|Evacuat|RememberedSet|MigratedSlot|LiveObjectVisitor|OnMoveEvent|SizeFromMap|MemoryReducer|malloc\.c|arena\.c/;

/** Instructions in one callgrind dump: `total`, and `steady` (total without the LUMPY functions' own costs). */
function callgrindWindow(file) {
  const total = Number(/^(?:summary|totals):\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'))[1]);
  const annotated = execFileSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let lumpy = 0;
  for (const line of annotated.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const n = Number(m[1].replace(/,/g, ''));
    // Functions on the stack when a dump is taken show the whole window: not self costs.
    if (n < total && LUMPY.test(m[2])) lumpy += n;
  }
  return { total, steady: total - lumpy };
}

/** The caller's environment without any OTEL_* / VIGIL_* setting of its shell, for a benchmark's child. */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(OTEL_|VIGIL_|PROMETHEUS_ENABLED$|SITE_ID$)/.test(k)) env[k] = v;
  return env;
}

module.exports = {
  ROOT,
  cleanEnv,
  RESULTS_DIR,
  opt,
  flag,
  median,
  medianInterval,
  percentile,
  slope,
  medianRatio,
  fmt,
  table,
  machine,
  writeResults,
  freePort,
  spawnChild,
  ask,
  stopChild,
  serveIpc,
  processStats,
  load,
  serialConnection,
  get,
  sumSamples,
  lastJsonLine,
  nodeChild,
  callgrindChild,
  callgrindNode,
  callgrindWindow,
  eachAtMost,
};
