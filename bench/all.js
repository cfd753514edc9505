#!/usr/bin/env node
// `npm run bench`: every benchmark, one after the other, then the README's performance
// section from their results (bench/readme.js). About 35 minutes on 2 cores: pg and Redis take
// most of it (150 alternating slices per workload).
//
//   node bench/all.js [--skip http,scale,startup,otlp,memory,pg,redis] [--only ...]
//
// Each benchmark writes bench/results/<name>.md (and most a .json). A benchmark that fails
// is reported and the others still run; the exit code is then 1.
'use strict';
const { spawn } = require('node:child_process');
const { ROOT, opt } = require('./lib/common');

const STEPS = [
  { name: 'http', args: ['bench/http.js', '--rounds', '5'] },
  { name: 'scale', args: ['bench/scale.js', '--rounds', '3'] },
  { name: 'startup', args: ['bench/startup.js', '--runs', '12'] },
  { name: 'otlp', args: ['bench/otlp.js'] },
  { name: 'memory', args: ['bench/memory.js', '--seconds', '60'] },
  { name: 'pg', args: ['bench/pg.js', '--rounds', '3'] },
  { name: 'redis', args: ['bench/redis.js', '--rounds', '3'] },
];

function run(step) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    process.stderr.write(`\n=== node ${step.args.join(' ')}\n`);
    const p = spawn(process.execPath, step.args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', (code) => {
      const seconds = (Date.now() - t0) / 1000;
      process.stderr.write(`=== ${step.name}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${seconds.toFixed(0)} s\n`);
      resolve({ name: step.name, ok: code === 0, seconds });
    });
  });
}

async function main() {
  const skip = new Set(opt('skip', '').split(',').filter(Boolean));
  const only = new Set(opt('only', '').split(',').filter(Boolean));
  const t0 = Date.now();
  const done = [];
  for (const step of STEPS) {
    if (skip.has(step.name) || (only.size && !only.has(step.name))) continue;
    done.push(await run(step));
  }
  const readme = await run({ name: 'readme', args: ['bench/readme.js'] });
  done.push(readme);
  process.stderr.write(`\nall benchmarks: ${((Date.now() - t0) / 60000).toFixed(1)} min; ${done.map((d) => `${d.name} ${d.ok ? 'ok' : 'FAILED'} (${d.seconds.toFixed(0)} s)`).join(', ')}\n`);
  if (done.some((d) => !d.ok)) process.exit(1);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
