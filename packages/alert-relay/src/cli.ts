#!/usr/bin/env node
/**
 * vigil-alert-relay --config relay.yml [--listen host:port] [--check]
 *
 * Options resolve as everywhere in vigil: command-line option, then
 * environment variable (VIGIL_ALERT_RELAY_CONFIG, VIGIL_ALERT_RELAY_LISTEN),
 * then the documented default (listen 0.0.0.0:8080, from the file when set).
 */
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseListen, readConfigFile, RelayConfigError, resolveConfig } from './config';
import { createRelay } from './relay';
import type { LogRecord } from './types';

const USAGE = `Usage: vigil-alert-relay --config <relay.yml> [--listen <host:port>] [--check]

Relays Alertmanager webhook notifications to DingTalk, WeCom and Feishu robots.

  -c, --config <file>    configuration file (env VIGIL_ALERT_RELAY_CONFIG)
  -l, --listen <addr>    listen address, overrides the file (env VIGIL_ALERT_RELAY_LISTEN)
      --check            validate the configuration and exit
  -h, --help             show this help
`;

function fail(message: string, code = 1): never {
  process.stderr.write(`vigil-alert-relay: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string', short: 'l' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const file = args.config ?? process.env['VIGIL_ALERT_RELAY_CONFIG'];
  if (!file) fail(`--config is required\n\n${USAGE}`, 2);
  const path = resolve(file);
  const listenText = args.listen ?? (process.env['VIGIL_ALERT_RELAY_LISTEN'] || undefined);

  let relay;
  try {
    const input = readConfigFile(path);
    if (args.check) {
      const cfg = resolveConfig(input, { baseDir: dirname(path) });
      process.stdout.write(`${file}: OK (${cfg.routes.size} route(s), ${cfg.targets.size} target(s))\n`);
      return;
    }
    const listen = listenText ? parseListen(listenText, args.listen ? '--listen' : 'VIGIL_ALERT_RELAY_LISTEN') : undefined;
    relay = createRelay(input, { baseDir: dirname(path), log: (r: LogRecord) => process.stdout.write(`${JSON.stringify(r)}\n`) });
    await relay.start(listen);
  } catch (err) {
    if (err instanceof RelayConfigError) fail(`${file}: ${err.message}`);
    fail((err as Error).message);
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'shutting down', signal })}\n`);
    relay.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
