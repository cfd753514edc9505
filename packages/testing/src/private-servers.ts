// Private PostgreSQL and Redis servers for tests that stop and restart them (the shared ones
// at 5432 / 6379 are never touched): each listens on its own free port with its data in a
// temporary directory, and can be killed and started again on the same port and data. Also
// startRedisServer, for tests that need a redis-server set up their own way (cluster, TLS).
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './net';

export interface PrivateServer {
  readonly port: number;
  /** Kills the server the way a crash would (Redis: SIGKILL; PostgreSQL: immediate shutdown, SIGQUIT); resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  close(): Promise<void>;
  /** What the server printed. */
  output(): string;
}

/** A binary from PATH, or from Debian's /usr/lib/postgresql/<version>/bin; fails loudly when there is none. */
function binary(name: string, debianPackage: string): string {
  const dirs = (process.env.PATH ?? '').split(delimiter);
  const pgRoot = '/usr/lib/postgresql';
  if (existsSync(pgRoot)) for (const v of readdirSync(pgRoot).sort().reverse()) dirs.push(join(pgRoot, v, 'bin'));
  for (const dir of dirs) if (dir && existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`${name} is not installed (the Debian package ${debianPackage} provides it); this test needs a server of its own`);
}

/** The uid and gid of a system user, from /etc/passwd (PostgreSQL refuses to run as root). */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<void>;
}

/** Spawns a server and resolves once `ready` matches its output; fails with the output after timeoutMs or on an early exit. */
function spawnServer(command: string, args: string[], ready: RegExp, log: { text: string }, user?: { uid: number; gid: number }, timeoutMs = 20_000): Promise<Spawned> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...user });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const start = log.text.length;
    const timer = setTimeout(() => fail(`did not become ready within ${timeoutMs / 1000} s`), timeoutMs);
    const onData = (d: Buffer) => {
      log.text += d.toString();
      if (ready.test(log.text.slice(start))) {
        clearTimeout(timer);
        resolve({ child, exited });
      }
    };
    function fail(why: string) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${command} ${why}:\n${log.text.slice(start)}`));
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => fail(`could not be started (${err.message})`));
    void exited.then(() => fail(`exited (${child.exitCode ?? child.signalCode})`));
  });
}

/** A redis-server with these arguments, once it accepts connections; fails loudly, with its output, when it cannot start. */
export async function startRedisServer(args: string[], timeoutMs = 20_000): Promise<ChildProcess> {
  const { child } = await spawnServer(binary('redis-server', 'redis-server'), args, /Ready to accept connections/, { text: '' }, undefined, timeoutMs);
  return child;
}

/** A redis-server of its own on a free port, without persistence. */
export async function startPrivateRedis(): Promise<PrivateServer> {
  const command = binary('redis-server', 'redis-server');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  const log = { text: '' };
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  let current: Spawned | undefined = await spawnServer(command, args, /Ready to accept connections/, log);
  const kill = async () => {
    const s = current;
    current = undefined;
    if (!s) return;
    s.child.kill('SIGKILL');
    await s.exited;
  };
  return {
    port,
    kill,
    async start() {
      if (!current) current = await spawnServer(command, args, /Ready to accept connections/, log);
    },
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => log.text,
  };
}

/** A PostgreSQL server of its own (initdb in a temporary directory, trust auth, fsync off) on a free port. */
export async function startPrivatePostgres(): Promise<PrivateServer> {
  const initdb = binary('initdb', 'postgresql');
  const postgres = binary('postgres', 'postgresql');
  const user = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  if (process.getuid?.() === 0 && !user) throw new Error('running as root, and there is no postgres user to run a private PostgreSQL as');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const log = { text: '' };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], { stdio: ['ignore', 'pipe', 'pipe'], ...user });
    child.stdout!.on('data', (d: Buffer) => (log.text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log.text += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed (${code}):\n${log.text}`))));
  });
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const ready = /database system is ready to accept connections/;
  let current: Spawned | undefined = await spawnServer(postgres, args, ready, log, user);
  const kill = async () => {
    const s = current;
    current = undefined;
    if (!s) return;
    s.child.kill('SIGQUIT'); // immediate shutdown: every backend ends at once, as in a crash
    await s.exited;
  };
  return {
    port,
    kill,
    async start() {
      if (!current) current = await spawnServer(postgres, args, ready, log, user);
    },
    async close() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => log.text,
  };
}
