import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './net';

export interface AppOptions {
  /** Path of the app script. It prints `LISTENING <port>` on stdout once it serves. */
  script: string;
  /** Preload with --require (CommonJS) or --import (ESM). Default require. */
  preload?: 'require' | 'import' | 'none';
  /** Module to preload. Default @vigil/node/register. */
  register?: string;
  /** Extra environment; OTEL_EXPORTER_PROMETHEUS_PORT is set to a free port unless given. */
  env?: Record<string, string | undefined>;
  /** Extra node flags before the script. */
  nodeArgs?: string[];
  args?: string[];
  /** How long to wait for LISTENING. Default 20 s. */
  startTimeoutMs?: number;
  /** Wait for LISTENING at all (false for apps expected to exit). Default true. */
  waitForListening?: boolean;
}

export interface RunningApp {
  child: ChildProcess;
  /** The app's own port, from its LISTENING line. */
  port: number;
  /** vigil's metrics port given to the app. */
  metricsPort: number;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  exited: Promise<number | string>;
}

/** Spawns `node --require @vigil/node/register script` (or --import) with the repo's Node. */
export async function startApp(opts: AppOptions): Promise<RunningApp> {
  const metricsPort = opts.env?.OTEL_EXPORTER_PROMETHEUS_PORT ? Number(opts.env.OTEL_EXPORTER_PROMETHEUS_PORT) : await freePort();
  const preload = opts.preload ?? 'require';
  const flags = preload === 'none' ? [] : [`--${preload}`, opts.register ?? '@vigil/node/register'];
  const env: Record<string, string | undefined> = {
    ...process.env,
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    ...opts.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...flags, opts.script, ...(opts.args ?? [])], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const app: RunningApp = {
    child,
    port: 0,
    metricsPort,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  if (opts.waitForListening === false) return app;
  const timeout = opts.startTimeoutMs ?? 20_000;
  app.port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not print LISTENING within ${timeout} ms`), timeout);
    const onData = () => {
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    function fail(why: string) {
      child.kill('SIGKILL');
      reject(new Error(`${opts.script} ${why}\n--- stdout\n${out}\n--- stderr\n${err}`));
    }
    child.stdout!.on('data', onData);
    exited.then((code) => fail(`exited (${code}) before listening`));
  });
  return app;
}
