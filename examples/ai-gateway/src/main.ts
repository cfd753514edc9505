// The demo AI gateway's entry point:
//
//   node --require @vigil/node/register examples/ai-gateway/build/src/main.js [--traffic] [--duration N] [--rate R] [--chaos]
//
// --traffic     run the traffic generator against this gateway (in this process)
// --duration N  stop after N seconds (as if stopped with SIGTERM); env DEMO_DURATION
// --rate R      traffic scenarios per second (default 12); env DEMO_RATE
// --chaos       let the traffic generator make a channel fail now and then
//
// Prints `LISTENING <port>` once it serves, then where to look.
import { loadConfig } from './config';
import { startGateway, type RunningGateway } from './app';
import { SEED_USERS } from './seeds';
import { numberArg, parseArgs, runTraffic } from './traffic';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const duration = numberArg(args, 'duration', 'DEMO_DURATION');
  const config = loadConfig();
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config);
  } catch (e) {
    const err = e as Error & { code?: string };
    console.error(
      `ai-gateway: could not start: ${err.message}${err.code ? ` (${err.code})` : ''}\n` +
        `  PostgreSQL ${config.pg.host}:${config.pg.port}/${config.pg.database} and Redis ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')} must be running ` +
        '(bash scripts/setup.sh starts them on this machine).',
    );
    process.exitCode = 1;
    return;
  }

  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  console.log(`LISTENING ${gateway.port}`);
  const exporters = (process.env.OTEL_METRICS_EXPORTER ?? 'prometheus').split(',').map((s) => s.trim().toLowerCase());
  const promOff = process.env.PROMETHEUS_ENABLED?.trim().toLowerCase() === 'false' || !exporters.includes('prometheus');
  const metricsUrl = `http://${process.env.OTEL_EXPORTER_PROMETHEUS_HOST || '127.0.0.1'}:${process.env.OTEL_EXPORTER_PROMETHEUS_PORT || 9464}/metrics`;
  console.log(
    [
      `ai-gateway: serving on http://${host}:${gateway.port} (site ${config.siteId})`,
      `  metrics:  ${promOff ? `Prometheus endpoint off (OTEL_METRICS_EXPORTER=${exporters.join(',')})` : `curl ${metricsUrl}`}`,
      `  health:   curl http://${host}:${gateway.port}/health`,
      `  chat:     curl http://${host}:${gateway.port}/v1/chat/completions -H 'Authorization: Bearer ${SEED_USERS[1].apiKey}' -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'`,
      `  admin:    curl http://${host}:${gateway.port}/admin/channels -H 'Authorization: Bearer ${config.adminTokenGenerated ? '<ADMIN_TOKEN>' : '$ADMIN_TOKEN'}'` +
        (config.adminTokenGenerated ? `   (ADMIN_TOKEN not set; generated for this run: ${config.adminToken})` : ''),
    ].join('\n'),
  );

  const stopTraffic = new AbortController();
  let traffic: Promise<unknown> | undefined;
  if (args.traffic) {
    traffic = runTraffic({
      target: `http://127.0.0.1:${gateway.port}`,
      rate: numberArg(args, 'rate', 'DEMO_RATE'),
      adminToken: config.adminToken,
      chaos: args.chaos === true,
      signal: stopTraffic.signal,
      log: (line) => console.log(line),
    }).catch((e: Error) => console.error(e.message));
  }

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`ai-gateway: stopping (${why})`);
    stopTraffic.abort();
    await traffic;
    await gateway.close().catch((e: Error) => console.error(`ai-gateway: while stopping: ${e.message}`));
    console.log('ai-gateway: stopped');
    // Nothing of ours keeps the process alive now; the preloaded vigil flushes and closes its
    // metrics server on its own SIGTERM / SIGINT handler. After --duration, end as if stopped with SIGTERM.
    if (why === 'duration') process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(process.exitCode ?? 0), 10_000).unref();
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  if (duration !== undefined) setTimeout(() => void stop('duration'), duration * 1000).unref();
}

void main();
