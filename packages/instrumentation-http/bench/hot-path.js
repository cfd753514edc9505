#!/usr/bin/env node
// Hot-path micro-benchmark of @vigil/instrumentation-http (not a test).
//
// Server CPU time per request of a hello-world node:http server, with and
// without the instrumentation, measured in one run: each contender is its own
// server process; the rounds are interleaved (A B C, B C A, ...) and the
// medians and ratios to the uninstrumented baseline are reported. CPU is the
// server process's own user+system time over a fixed number of requests, so a
// busy machine skews throughput more than it skews these numbers.
//
//   node packages/instrumentation-http/bench/hot-path.js [--requests 10000] [--rounds 21]
//        [--connections 8] [--path /] [--contenders baseline,noop-channel,vigil]
//   profile one contender:  node --cpu-prof packages/instrumentation-http/bench/hot-path.js --server vigil
//   (the server then serves until killed; drive it with --client-only --port N)
//
// Build first: tsc -b packages/instrumentation-http
'use strict';
const { fork } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const args = process.argv.slice(2);
function opt(name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const has = (name) => args.includes(`--${name}`);

const CONTENDERS = {
  // nothing but the server
  baseline() {},
  // a diagnostics_channel subscriber that does nothing: the cost of the channel itself
  'noop-channel'() {
    const dc = require('node:diagnostics_channel');
    dc.subscribe('http.server.request.start', () => {});
    dc.subscribe('http.server.response.finish', () => {});
  },
  // vigil: the instrumentation recording the three HTTP metrics into the lean registry
  vigil() {
    const { HttpServerInstrumentation } = require(path.join(__dirname, '..', 'build', 'src', 'index.js'));
    const { MeterProvider } = require('@opentelemetry/sdk-metrics');
    const inst = new HttpServerInstrumentation();
    inst.setMeterProvider(new MeterProvider());
  },
};

// ------------------------------------------------------------------ server side

function runServer(mode) {
  const setup = CONTENDERS[mode];
  if (!setup) throw new Error(`unknown contender ${mode}`);
  setup();
  const http = require('node:http');
  const body = 'hello world';
  const server = http.createServer((req, res) => {
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  const port = Number(opt('port', '0'));
  server.listen(port, '127.0.0.1', () => {
    const { port: bound } = server.address();
    if (process.send) process.send({ port: bound });
    else console.log(`LISTENING ${bound}`);
  });
  process.on('message', (m) => {
    if (m === 'cpu') {
      const c = process.cpuUsage();
      process.send({ cpu: c.user + c.system, rss: process.memoryUsage().rss });
    } else if (m === 'exit') {
      server.close();
      process.exit(0);
    }
  });
  process.on('SIGTERM', () => process.exit(0)); // lets --cpu-prof write its profile
  process.on('SIGINT', () => process.exit(0));
}

// ------------------------------------------------------------------ client side

/** Sends `total` GET requests over `connections` keep-alive sockets, one in flight per socket. */
function load(port, total, connections, reqPath) {
  const request = Buffer.from(`GET ${reqPath} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const sockets = [];
    const t0 = process.hrtime.bigint();
    for (let c = 0; c < connections; c++) {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let buf = '';
      const next = () => {
        if (sent < total) {
          sent++;
          s.write(request);
        }
      };
      s.on('connect', next);
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          const h = buf.indexOf('\r\n\r\n');
          if (h < 0) break;
          const m = /content-length: *(\d+)/i.exec(buf.slice(0, h));
          const len = m ? Number(m[1]) : 0;
          if (buf.length < h + 4 + len) break;
          buf = buf.slice(h + 4 + len);
          done++;
          if (done === total) {
            const ns = Number(process.hrtime.bigint() - t0);
            for (const x of sockets) x.destroy();
            resolve(ns);
            return;
          }
          next();
        }
      });
      s.on('error', reject);
      sockets.push(s);
    }
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function ask(child) {
  return new Promise((resolve) => {
    child.once('message', resolve);
    child.send('cpu');
  });
}

async function main() {
  const requests = Number(opt('requests', '10000'));
  const rounds = Number(opt('rounds', '21'));
  const connections = Number(opt('connections', '8'));
  const reqPath = opt('path', '/');
  const names = opt('contenders', 'baseline,noop-channel,vigil').split(',');

  if (has('client-only')) {
    const ns = await load(Number(opt('port')), requests, connections, reqPath);
    console.log(`${requests} requests in ${(ns / 1e6).toFixed(0)} ms`);
    return;
  }

  const servers = [];
  for (const name of names) {
    const child = fork(__filename, ['--server', name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { port } = await new Promise((resolve) => child.once('message', resolve));
    servers.push({ name, child, port, cpu: [], rps: [], rss: 0 });
  }
  try {
    // warm-up: JIT and pools, not measured
    for (const s of servers) await load(s.port, Math.min(requests, 5000), connections, reqPath);
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(k + r) % servers.length]; // rotate the order every round
        const before = await ask(s.child);
        const ns = await load(s.port, requests, connections, reqPath);
        const after = await ask(s.child);
        s.cpu.push((after.cpu - before.cpu) / requests);
        s.rps.push(requests / (ns / 1e9));
        s.rss = after.rss;
      }
      process.stderr.write(`round ${r + 1}/${rounds}\r`);
    }
  } finally {
    for (const s of servers) s.child.send('exit');
  }
  const base = servers.find((s) => s.name === 'baseline') ?? servers[0];
  console.log(`\nnode:http hello-world, ${requests} requests x ${rounds} rounds, ${connections} keep-alive connections, path ${reqPath}, node ${process.version}`);
  console.log('ratio = median of the per-round ratios to the baseline (robust to load drifting between rounds)');
  console.log('contender       CPU µs/req  ratio   (min..max µs)        req/s   ratio   RSS MB');
  for (const s of servers) {
    const cpu = median(s.cpu);
    const rps = median(s.rps);
    const cpuRatio = median(s.cpu.map((c, i) => c / base.cpu[i]));
    const rpsRatio = median(s.rps.map((r, i) => r / base.rps[i]));
    console.log(
      `${s.name.padEnd(15)} ${cpu.toFixed(2).padStart(9)}  ${cpuRatio.toFixed(3)}   (${Math.min(...s.cpu).toFixed(1)}..${Math.max(...s.cpu).toFixed(1)})`.padEnd(55) +
        `${rps.toFixed(0).padStart(8)}   ${rpsRatio.toFixed(3)}   ${(s.rss / 1048576).toFixed(0)}`,
    );
  }

}

if (has('server')) runServer(opt('server'));
else main().catch((err) => {
  console.error(err);
  process.exit(1);
});
