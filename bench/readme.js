#!/usr/bin/env node
// Writes the README's performance section (between `<!-- perf:begin ... -->` and
// `<!-- perf:end -->`, nothing else) from the latest results in bench/results/:
// the targets with what was measured, one throughput table for HTTP, PostgreSQL and
// Redis, then every benchmark's own tables, and bench/notes.md (findings, before/after).
//
//   node bench/readme.js [--check]    (--check: print the section, leave README.md alone)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, RESULTS_DIR, fmt, table, flag } = require('./lib/common');

const README = path.join(ROOT, 'README.md');
const BEGIN = /^<!-- perf:begin[^\n]*-->$/m;
const END = /^<!-- perf:end -->$/m;

function readJson(name) {
  const f = path.join(RESULTS_DIR, `${name}.json`);
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : undefined;
}
function readText(f) {
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined;
}

/** Markdown tables in a text: [{ header: [...], rows: [[...]] }]. */
function parseTables(md) {
  const tables = [];
  const lines = (md ?? '').split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('|') || !/^\|[\s:|-]+\|$/.test(lines[i + 1].trim())) continue;
    const cells = (l) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
    const header = cells(lines[i]);
    const rows = [];
    let j = i + 2;
    for (; j < lines.length && lines[j].startsWith('|'); j++) rows.push(cells(lines[j]));
    tables.push({ header, rows });
    i = j;
  }
  return tables;
}
// Tables write a negative number with U+2212 (−).
const num = (s) => Number(String(s).replace(/\u2212/g, '-').replace(/[^0-9.+-]/g, ''));
const col = (t, re) => t.header.findIndex((h) => re.test(h));

/**
 * Throughput rows of bench/pg.js's and bench/redis.js's tables: [{ workload, baseline, aa, vigil, otel,
 * vigilSlices, otelSlices }], one per workload (`where` and `what` name its two columns, pg's server
 * and query, Redis' client and mode); the *Slices cells come from the alternating-in-one-process table.
 */
function contenderRows(md, { where, what, label }) {
  const groups = new Map();
  for (const t of parseTables(md)) {
    const c = {
      where: col(t, where),
      what: col(t, what),
      who: col(t, /contender/),
      rate: col(t, /\/s \(median\)/),
      ratio: col(t, /vs baseline/),
      cpu: col(t, /baseline CPU \//),
      interval: col(t, /confidence interval/),
      slices: /per-slice/.test(t.header.join(' ')),
    };
    if (c.who < 0 || c.ratio < 0) continue;
    for (const r of t.rows) {
      const key = label(c.where >= 0 ? r[c.where] : undefined, c.what >= 0 ? r[c.what] : '');
      if (!groups.has(key)) groups.set(key, { workload: key });
      const who = r[c.who];
      const cell = {
        qps: c.rate >= 0 ? num(r[c.rate]) : NaN,
        ratio: num(r[c.ratio]) / 100,
        cpuRatio: c.cpu >= 0 ? num(r[c.cpu]) / 100 : NaN,
        interval: c.interval >= 0 ? r[c.interval] : undefined,
      };
      const kind = /A\/A/i.test(who) ? 'aa' : /no instrumentation/i.test(who) ? 'baseline' : /vigil/i.test(who) ? 'vigil' : /opentelemetry/i.test(who) ? 'otel' : undefined;
      if (kind) groups.get(key)[c.slices ? `${kind}Slices` : kind] = cell;
    }
  }
  return [...groups.values()].filter((g) => g.baseline);
}
const pgRows = (md) => contenderRows(md, { where: /^server$/, what: /^query$/, label: (server = 'PostgreSQL', query) => `${server}: ${query}` });
const redisRows = (md) => contenderRows(md, { where: /^client$/, what: /^mode$/, label: (client, mode) => `${client}, ${mode}` });

/**
 * Instructions vigil (and each peer) adds per operation, counted by callgrind (the `--instructions` modes of
 * bench/http.js, pg.js and redis.js): [{ workload, unit, baseline, contenders: { name: { added, ratio, steadyRatio } } }].
 */
function instructionRows(redisMd) {
  const rows = [];
  // the ~1 ms handler is a callgrind run of its own (bench/http.js --instructions --workloads http-work)
  for (const http of [readJson('http-instructions'), readJson('http-instructions-work')]) {
    for (const [key, cs] of Object.entries(http?.workloads ?? {})) {
      const contenders = {};
      for (const [name, c] of Object.entries(cs)) {
        if (name !== 'baseline') contenders[name] = { added: c.addedInstructions, ratio: c.addedRatio, steadyRatio: c.steadyAddedRatio };
      }
      rows.push({ workload: http.workloadTitles?.[key] ?? key, unit: 'request', baseline: cs.baseline.instructions, contenders });
    }
  }
  const pg = readJson('pg-instructions');
  const pgTitles = { select1: '`SELECT 1`', lookup: 'indexed lookup' };
  for (const [key, cs] of Object.entries(pg?.results ?? {})) {
    const [server, query] = key.split(':');
    const contenders = {};
    for (const [name, c] of Object.entries(cs)) {
      if (name !== 'baseline') contenders[name] = { added: c.addedPerQuery, ratio: c.addedPercent / 100, steadyRatio: c.steadyAddedPercent / 100 };
    }
    const where = server === 'postgres' ? 'PostgreSQL' : 'in-process fake server';
    rows.push({ workload: `pg, ${pgTitles[query] ?? query} (${where})`, unit: 'query', baseline: cs.baseline.instructionsPerQuery, contenders });
  }
  for (const t of parseTables(redisMd)) {
    const c = { client: col(t, /^client$/), mode: col(t, /^mode$/), base: col(t, /^baseline instructions/), added: col(t, /^vigil − baseline$/), steady: col(t, /^steady vigil − baseline$/) };
    if (c.base < 0 || c.added < 0) continue;
    const pct = (cell) => num(/\(([-+\u2212\d.]+)%\)/.exec(cell)?.[1]) / 100;
    for (const r of t.rows) {
      rows.push({
        workload: `Redis, ${r[c.client]}, ${r[c.mode]}`,
        unit: 'command',
        baseline: num(r[c.base]),
        contenders: { vigil: { added: num(r[c.added].split('(')[0]), ratio: pct(r[c.added]), steadyRatio: c.steady >= 0 ? pct(r[c.steady]) : NaN } },
      });
    }
  }
  return rows;
}

/** Instructions a contender adds per operation (an instructionRows cell): "+2,926 (+0.0%) · steady +0.0%". */
function instructionsAdded(c) {
  return c ? `${c.added >= 0 ? '+' : '−'}${fmt.int(Math.abs(c.added))} (${fmt.delta(1 + c.ratio)})${Number.isFinite(c.steadyRatio) ? ` · steady ${fmt.delta(1 + c.steadyRatio)}` : ''}` : '—';
}

function instructionsTable(rows) {
  return (
    table(
      ['workload', 'baseline instructions', 'vigil', 'prom-client (hand-written)', 'express-prom-bundle', 'OpenTelemetry'],
      rows.map((r) => [r.workload, `${fmt.int(r.baseline)} / ${r.unit}`, ...['vigil', 'prom-client', 'prom-bundle', 'otel'].map((k) => instructionsAdded(r.contenders[k]))]),
      ['l', 'r', 'r', 'r', 'r', 'r'],
    ) +
    '\n\nCPU instructions each contender adds per request, query or command, counted by `valgrind --tool=callgrind` in the process that does the work (the server for HTTP, the client for pg and Redis), with V8 made deterministic: ' +
    'unlike time, it does not move with the load of a shared machine (the per-run figures are under each benchmark\'s table below). "steady" leaves out major collections and libc\'s allocator. ' +
    'Instructions are not time (a cache miss costs more than an add), but where the CPU is the bottleneck the throughput ratio is about 1 / (1 + added share). ' +
    'Commands: `node bench/http.js --instructions` (the ~1 ms handler: `--workloads http-work`, a run of its own), `node bench/pg.js --instructions`, `node bench/redis.js --instructions` (pg: OpenTelemetry column is @opentelemetry/instrumentation-pg, tracing; in-process fake server: its own work is in every count).'
  );
}

const verdict = (ok, goal) => (ok === undefined ? 'not measured' : ok ? (goal === false ? 'met (goal missed)' : 'met') : '**missed**');

function targets(http, scale, startup, memory, soak, pg, redis, instr) {
  const added = (prefix) => instr.filter((r) => r.workload.startsWith(prefix) && r.contenders.vigil).map((r) => r.contenders.vigil.ratio);
  const range = (xs) => (xs.length ? `${fmt.delta(1 + Math.min(...xs))} – ${fmt.delta(1 + Math.max(...xs))}` : '');
  const rows = [];
  const v = (w) => http?.workloads?.[w]?.contenders?.vigil;
  const hello = v('http-hello');
  const work = v('http-work');
  // CPU time per request moves by several % between identical servers here (A/A row); instructions do not
  const helloInstr = instr.find((r) => r.workload === http?.workloads?.['http-hello']?.title)?.contenders.vigil;
  rows.push([
    'node:http hello world: server CPU per request ≤ +10% over baseline (goal +5%)',
    (hello ? `CPU time ${fmt.delta(hello.cpuRatio)}` : '—') + (helloInstr ? `; instructions ${fmt.delta(1 + helloInstr.ratio)} (steady ${fmt.delta(1 + helloInstr.steadyRatio)})` : ''),
    helloInstr
      ? helloInstr.ratio <= 0.1
        ? `met by instructions${Math.max(helloInstr.ratio, helloInstr.steadyRatio) <= 0.05 ? '' : ' (goal +5% missed)'}`
        : '**missed** by instructions'
      : verdict(hello && hello.cpuRatio <= 1.1, hello ? hello.cpuRatio <= 1.05 : undefined),
  ]);
  const aa = http?.workloads?.['http-hello']?.contenders?.['baseline-2'];
  if (aa) rows.push(['(A/A control: a second identical baseline, same run)', `CPU ${fmt.delta(aa.cpuRatio)}, requests/s ${fmt.pct(aa.rpsRatio)}`, 'the noise floor']);
  rows.push(['node:http hello world: requests/s ≥ 92% of baseline', hello ? fmt.pct(hello.rpsRatio) : '—', verdict(hello && hello.rpsRatio >= 0.92)]);
  // a server doing ~1 ms of work per request is CPU-bound: its requests/s follow its instructions per request
  const workInstr = instr.find((r) => r.workload === http?.workloads?.['http-work']?.title)?.contenders.vigil;
  const workShare = workInstr ? 1 / (1 + workInstr.ratio) : undefined;
  rows.push([
    'node:http ~1 ms handler: requests/s ≥ 99% of baseline',
    (work ? `${fmt.pct(work.rpsRatio)} (A/A control ${fmt.pct(http.workloads['http-work'].contenders['baseline-2']?.rpsRatio)})` : '—') +
      (workInstr
        ? `; instructions added per request ${instructionsAdded(workInstr)}: ${fmt.pct(workShare)} of requests/s where the server's CPU is the bottleneck`
        : ''),
    workInstr ? (workShare >= 0.99 ? 'met by instructions' : '**missed** by instructions') : verdict(work && work.rpsRatio >= 0.99),
  ]);
  const p99 = [hello, work].filter(Boolean).map((c) => c.p99AddedMs);
  const aaP99 = ['http-hello', 'http-work'].map((w) => http?.workloads?.[w]?.contenders?.['baseline-2']?.p99AddedMs).filter((x) => x !== undefined);
  rows.push([
    'p99 latency added < 0.1 ms (node:http, hello world / ~1 ms)',
    (p99.length ? p99.map((x) => `${fmt.signed(x * 1000, 0)} µs`).join(' / ') : '—') +
      (aaP99.length ? ` (A/A control: ${aaP99.map((x) => `${fmt.signed(x * 1000, 0)} µs`).join(' / ')})` : ''),
    verdict(p99.length ? Math.max(...p99) < 0.1 : undefined),
  ]);
  const mem = memory?.procs?.vigil;
  rows.push([
    'RSS added with HTTP, pg, Redis and runtime metrics ≤ 15 MB after warm-up',
    mem ? `${fmt.signed(mem.warmAddedMB)} MB after warm-up, ${fmt.signed(mem.endAddedMB)} MB at the end (\`--require\`)` : '—',
    verdict(mem ? Math.max(mem.warmAddedMB, mem.endAddedMB) <= 15 : undefined),
  ]);
  const soakV = soak?.procs?.vigil;
  const soakB = soak?.procs?.baseline;
  rows.push([
    `… and flat over a ${soak ? Math.round(soak.seconds / 60) : 10}-minute load`,
    soakV
      ? `vigil ${fmt.f1(soakV.warmMB)} → ${fmt.f1(soakV.endMB)} MB (slope ${fmt.signed(soakV.slopeMBPerMin, 2)} MB/min), baseline ${fmt.f1(soakB.warmMB)} → ${fmt.f1(soakB.endMB)} MB; added ${fmt.signed(soakV.warmAddedMB)} → ${fmt.signed(soakV.endAddedMB)} MB` +
        (Number.isFinite(soakV.heapWarmMB) ? `; vigil's heap after a full GC ${fmt.f1(soakV.heapWarmMB)} → ${fmt.f1(soakV.heapEndMB)} MB (baseline ${fmt.f1(soakB.heapWarmMB)} → ${fmt.f1(soakB.heapEndMB)} MB)` : '')
      : 'run `node bench/memory.js --seconds 600`',
    // flat: vigil's own RSS does not climb after the warm-up (the size of what it adds is the row above)
    soakV ? verdict(soakV.endMB - soakV.warmMB <= 2 && soakV.slopeMBPerMin <= 0.5) : 'not measured',
  ]);
  const s10 = scale?.scrape?.find((s) => s.impl === 'vigil' && s.size === 10000);
  // what the text would cost with vigil's own serializer, once the metrics server uses it
  const fast = s10?.breakdown?.fastSerialize !== undefined ? `; in-process, collect + text: ${fmt.ms(s10.breakdown.collect + s10.breakdown.serialize)} ms with OTel's serializer, ${fmt.ms(s10.breakdown.collect + s10.breakdown.fastSerialize)} ms with vigil's PrometheusTextSerializer, which the server uses` : '';
  rows.push(['/metrics at 10 000 series served in < 50 ms', s10 ? `${fmt.ms(s10.ms)} ms plain, ${fmt.ms(s10.gzipMs)} ms gzip (end to end)${fast}` : '—', verdict(s10 ? Math.max(s10.ms, s10.gzipMs) < 50 : undefined)]);
  rows.push(['… with no event-loop stall > 20 ms', s10 ? `${fmt.ms(s10.stallMaxMs)} ms worst (median ${fmt.ms(s10.stallMedianMs)} ms)` : '—', verdict(s10 ? s10.stallMaxMs <= 20 : undefined)]);
  const st = startup?.contenders?.vigil;
  const esm = startup?.contenders?.['vigil-import'];
  const esmNote = esm ? ` (\`--import\`, ESM apps: ${fmt.f1(esm.mainAddedMs)} ms and ${fmt.f1(esm.wallAddedMs)} ms)` : '';
  rows.push([
    'startup added by `--require @vigil/node/register` < 150 ms',
    st ? `${fmt.f1(st.mainAddedMs)} ms to main, ${fmt.f1(st.wallAddedMs)} ms spawn to exit${esmNote}` : '—',
    verdict(st ? Math.max(st.mainAddedMs, st.wallAddedMs) < 150 : undefined),
  ]);
  // pg and Redis: the alternating-in-one-process ratios (baseline measured milliseconds apart) decide
  // where they were measured; the separate processes and their A/A control show the noise around them
  const clientTarget = (title, xs, instrPrefix, unit) => {
    const ratios = (k) => xs.filter((r) => r[k]).map((r) => r[k].ratio);
    const span = (rs) => `${fmt.pct(Math.min(...rs))} – ${fmt.pct(Math.max(...rs))}`;
    const separate = ratios('vigil');
    const slices = ratios('vigilSlices');
    const aa = ratios('aa');
    // The workload that decides: the lowest alternating median, with its confidence interval.
    const lowest = xs.filter((r) => r.vigilSlices).sort((a, b) => a.vigilSlices.ratio - b.vigilSlices.ratio)[0];
    const lowestNote = lowest?.vigilSlices.interval ? ` (lowest: ${lowest.workload}, 95% interval ${lowest.vigilSlices.interval})` : '';
    rows.push([
      title,
      (separate.length
        ? `${span(separate)} over ${separate.length} workloads (separate processes${aa.length ? `; A/A control ${span(aa)}` : ''})` +
          (slices.length ? `; alternating in one process ${span(slices)}${lowestNote}` : '')
        : '—') + (added(instrPrefix).length ? `; instructions added per ${unit} ${range(added(instrPrefix))}` : ''),
      verdict(separate.length ? Math.min(...(slices.length ? slices : separate)) >= 0.97 : undefined),
    ]);
  };
  clientTarget('PostgreSQL ≥ 97% of uninstrumented queries/s', pg, 'pg', 'query');
  clientTarget('Redis ≥ 97% of uninstrumented operations/s', redis, 'Redis', 'command');
  return table(['target (issue 8)', 'measured', ''], rows, ['l', 'l', 'l']);
}

function throughput(http, pg, redis) {
  const rows = [];
  const cell = (c) => (c ? `${fmt.pct(c.rpsRatio)} · CPU ${fmt.delta(c.cpuRatio)}` : '—');
  for (const [key, w] of Object.entries(http?.workloads ?? {})) {
    const c = w.contenders;
    rows.push([
      w.title,
      `${fmt.int(c.baseline.rps)} req/s · ${fmt.f1(c.baseline.cpuUs)} µs CPU/req`,
      cell(c['baseline-2']),
      cell(c.vigil),
      cell(c['prom-client']),
      key.startsWith('express') ? cell(c['prom-bundle']) : '—',
      cell(c.otel),
    ]);
  }
  // pg and Redis: "CPU" is baseline CPU per operation / contender's (100% = nothing added)
  const cpu = (x) => (Number.isFinite(x?.cpuRatio) ? ` · CPU ${fmt.pct(x.cpuRatio)}` : '');
  const slices = (x) => (x ? ` (alternating in one process: ${fmt.pct(x.ratio)})` : '');
  for (const [prefix, unit, xs] of [['pg', 'queries/s', pg], ['Redis', 'ops/s', redis]]) {
    for (const r of xs) {
      rows.push([
        `${prefix}, ${r.workload}`,
        `${fmt.int(r.baseline.qps)} ${unit}`,
        r.aa ? `${fmt.pct(r.aa.ratio)}${cpu(r.aa)}` : '—',
        r.vigil ? `${fmt.pct(r.vigil.ratio)}${cpu(r.vigil)}${slices(r.vigilSlices)}` : '—',
        '—',
        '—',
        r.otel ? `${fmt.pct(r.otel.ratio)}${cpu(r.otel)} (tracing)${slices(r.otelSlices)}` : '—',
      ]);
    }
  }
  return (
    table(['workload', 'baseline', 'A/A control', 'vigil', 'prom-client (hand-written)', 'express-prom-bundle', 'OpenTelemetry'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']) +
    '\n\nEach cell: throughput as a share of the baseline measured in the same run (median of per-round ratios). ' +
    'HTTP: "CPU +x%" is the server\'s CPU per request against the baseline\'s; pg and Redis: "CPU y%" is baseline CPU per operation / the contender\'s (100% = nothing added). ' +
    'The A/A control is a second, identical uninstrumented process: how far the noise of this machine moves the numbers in the same run. ' +
    'HTTP: `node bench/http.js`; PostgreSQL: `node bench/pg.js` (OpenTelemetry column: @opentelemetry/instrumentation-pg, tracing); Redis: `node bench/redis.js`.'
  );
}

function demote(md) {
  // results files use ### / ####, which sit right under the README's "## Performance"
  return md.trim();
}

function build() {
  const http = readJson('http');
  const scale = readJson('scale');
  const startup = readJson('startup');
  const memory = readJson('memory');
  const soak = readJson('memory-soak');
  const pgMd = readText(path.join(RESULTS_DIR, 'pg.md'));
  const redisMd = readText(path.join(RESULTS_DIR, 'redis.md'));
  const pg = pgRows(pgMd);
  const redis = redisRows(redisMd);
  const redisInstrMd = readText(path.join(RESULTS_DIR, 'redis-instructions.md'));
  const instr = instructionRows(redisInstrMd);
  const notes = readText(path.join(ROOT, 'bench', 'notes.md'));
  const parts = [
    'Numbers from `npm run bench` (`node bench/all.js`; about 35 minutes on this 2-core machine), which runs every benchmark below and rewrites this section; ' +
      'each benchmark also runs alone (commands in each table\'s heading; what each measures and how to read it: [bench/README.md](bench/README.md)). ' +
      'All contenders of a benchmark run interleaved in one run, and only ratios to the baseline of the same run are compared: absolute numbers depend on the machine and on whatever else it runs.',
    `### Targets\n\n${targets(http, scale, startup, memory, soak, pg, redis, instr)}`,
    `### Throughput with and without instrumentation\n\n${throughput(http, pg, redis)}`,
  ];
  if (instr.length) parts.push(`### Instructions per operation (independent of load)\n\n${instructionsTable(instr)}`);
  if (notes) parts.push(notes.trim());
  for (const name of ['http', 'http-instructions', 'scale', 'startup', 'otlp', 'memory', 'memory-soak']) {
    const md = readText(path.join(RESULTS_DIR, `${name}.md`));
    if (md) parts.push(demote(md));
  }
  if (pgMd) parts.push(demote(pgMd.startsWith('###') ? pgMd : `### PostgreSQL\n\n${pgMd}`));
  const pgInstrMd = readText(path.join(RESULTS_DIR, 'pg-instructions.md'));
  if (pgInstrMd) parts.push(demote(pgInstrMd));
  if (redisMd) parts.push(demote(redisMd.startsWith('###') ? redisMd : `### Redis\n\n${redisMd}`));
  if (redisInstrMd) parts.push(demote(redisInstrMd));
  return parts.join('\n\n');
}

function main() {
  const section = build();
  if (flag('check')) {
    process.stdout.write(`${section}\n`);
    return;
  }
  const text = fs.readFileSync(README, 'utf8');
  const b = BEGIN.exec(text);
  const e = END.exec(text);
  if (!b || !e || e.index < b.index) throw new Error('README.md has no <!-- perf:begin ... --> ... <!-- perf:end --> region');
  const start = b.index + b[0].length;
  fs.writeFileSync(README, `${text.slice(0, start)}\n${section}\n${text.slice(e.index)}`);
  process.stderr.write(`README.md: performance section written (${section.length} characters)\n`);
}

main();
