// ioredis (5 and 6).
//
// Single commands: every command a connection sends passes through
// Redis#sendCommand(command) as a Command object. A cluster client routes through
// Cluster#sendCommand first, which installs its own reject to follow MOVED / ASK
// redirections before handing the command to a node's connection. vigil notes a
// command the first time it sees it (commands pass through sendCommand again when
// the offline queue is flushed or a redirection is followed), at the outermost
// layer: on a cluster client that is before the cluster's own reject, so a
// redirection never reaches vigil and the command is counted once, with its final
// result. Its reply is counted in Command#transformReply, which the command's
// resolve calls (as a method, so one wrapper on the prototype serves every command
// without a closure per command); its error through a wrapper of the command's
// reject. MULTI sent on its own (`multi({ pipeline: false })`) is followed per
// connection: the commands after it are counted from EXEC's reply.
//
// Pipelines and transactions (`pipeline()`, `multi()`, auto-pipelining): their
// commands reach sendCommand with the pipeline's stream and are left alone there;
// Pipeline#exec's result ([error, result] per command, EXEC's entry holding the
// transaction's results) is counted once the pipeline settles, so a batch costs one
// promise callback instead of two closures per command, and a cluster pipeline
// that follows a redirection is counted once, with its final results. vigil's own
// commands are recognised as they join a pipeline (Pipeline#sendCommand), since an
// auto-pipeline mixes commands from many callers.
import { logOnce } from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import { isInternalCommand } from '@vigil/catalog/internal-commands';
import type { IoClient, IoCommand, IoPipeline } from './internal-types';
import { describe } from './describe';
import type { MemoryMonitor, Probe, TrackedClient } from './memory';
import { RespProbe } from './probe';
import { Kind } from './operations';
import { isNoScript, keysOf, Rec, type OpInfo, type Recorder } from './recorder';
import type { Switch } from './wrap';

const kState = Symbol('vigil.redis.state');
const kRec = Symbol('vigil.redis.rec');
const kCounted = Symbol('vigil.redis.counted');

/** What vigil keeps per connection (or cluster client). */
interface ConnState {
  /** The commands queued since a MULTI sent on its own, until EXEC or DISCARD. */
  tx: Rec[] | null;
}

/** The instrumentation's recorder and memory monitor, read at every command (they change with setConfig). */
export interface Sinks {
  recorder(): Recorder | undefined;
  memory(): MemoryMonitor | undefined;
}

function failed(what: string, err: unknown): void {
  logOnce(`redis:ioredis:${what}`, 'warn', `ioredis instrumentation failed to ${what} and goes on without it (${describe(err)})`);
}

/** The wrapper for Redis#sendCommand (viaCluster false) and Cluster#sendCommand (viaCluster true). */
export function wrapSendCommand(sinks: Sinks, viaCluster: boolean) {
  return (original: IoClient['sendCommand'], sw: Switch): IoClient['sendCommand'] =>
    function vigilSendCommand(this: IoClient, command: IoCommand, stream?: unknown): unknown {
      // eslint-disable-next-line prefer-rest-params
      if (!sw.on) return original.apply(this, arguments as unknown as Parameters<IoClient['sendCommand']>);
      // A pipeline's commands come with its stream: Pipeline#exec counts them.
      if (stream === undefined) {
        // Read outside the try block: inside one, V8 calls the clock through its slow path.
        const sent = nowMs();
        try {
          let state = this[kState] as ConnState | undefined;
          if (state === undefined) state = newState(this, sinks, viaCluster);
          if (command !== null && typeof command === 'object' && command[kRec] === undefined) see(sinks, state, command, sent);
        } catch (err) {
          failed('count a command', err);
        }
      }
      // eslint-disable-next-line prefer-rest-params
      return original.apply(this, arguments as unknown as Parameters<IoClient['sendCommand']>);
    };
}

function newState(client: IoClient, sinks: Sinks, viaCluster: boolean): ConnState {
  const state: ConnState = { tx: null };
  client[kState] = state;
  // A cluster client is not a server; its node connections (Redis instances) are tracked.
  if (!viaCluster) sinks.memory()?.track(new IoTracked(client));
  return state;
}

function see(sinks: Sinks, state: ConnState, command: IoCommand, sent: number): void {
  const recorder = sinks.recorder();
  if (recorder === undefined) return;
  // vigil's own commands are not counted at all, nor do they open or close a transaction.
  if (isInternalCommand()) {
    command[kRec] = null;
    return;
  }
  const op = recorder.op(command.name);
  switch (op.kind) {
    case Kind.Ignore:
      command[kRec] = null;
      return;
    case Kind.Multi:
      command[kRec] = null;
      if (state.tx === null) state.tx = [];
      return;
    case Kind.Discard:
      // The queued commands never run, so they are not counted.
      command[kRec] = null;
      state.tx = null;
      return;
  }
  const rec = new Rec(op, sent, op.kind === Kind.Count ? keysOf(op, Array.isArray(command.args) ? command.args.length : 1) : 0);
  if (op.kind === Kind.Exec) {
    rec.txList = state.tx ?? [];
    state.tx = null;
  } else if (state.tx !== null) {
    rec.queued = true;
    state.tx.push(rec);
  }
  command[kRec] = rec;
  const reject = command.reject;
  if (typeof reject !== 'function') return;
  command.reject = (err: unknown): unknown => {
    const end = nowMs();
    try {
      // A custom command's EVALSHA answered NOSCRIPT is sent again as EVAL. (A cluster client
      // follows redirections before this reject is reached; a standalone connection's MOVED
      // is the application's error.)
      if (!isNoScript(err)) recorder.settle(rec, err, true, end);
    } catch (e) {
      failed('count a reply', e);
    }
    return reject.call(command, err);
  };
}

/**
 * The wrapper for Command#transformReply: the command's resolve calls it with the raw reply.
 * The reply is counted once it is transformed: a transformation that throws rejects the
 * command, which counts as its error.
 */
export function wrapTransformReply(sinks: Sinks) {
  return (original: IoCommand['transformReply'], sw: Switch): IoCommand['transformReply'] =>
    function vigilTransformReply(this: IoCommand, reply: unknown): unknown {
      const result = original.call(this, reply);
      if (sw.on) {
        const rec = this[kRec] as Rec | null | undefined;
        if (rec !== undefined && rec !== null) {
          const end = nowMs();
          try {
            sinks.recorder()?.settle(rec, reply, false, end);
          } catch (err) {
            failed('count a reply', err);
          }
        }
      }
      return result;
    };
}

/** The wrapper for Pipeline#sendCommand: marks vigil's own commands as they join a pipeline. */
export function wrapPipelineSendCommand() {
  return (original: IoPipeline['sendCommand'], sw: Switch): IoPipeline['sendCommand'] =>
    function vigilPipelineSendCommand(this: IoPipeline, command: IoCommand): unknown {
      if (sw.on && command !== null && typeof command === 'object' && isInternalCommand()) command[kRec] = null;
      // eslint-disable-next-line prefer-rest-params
      return original.apply(this, arguments as unknown as [IoCommand]);
    };
}

// ---------------------------------------------------------------- pipelines

/** The wrapper for Pipeline#exec. */
export function wrapPipelineExec(sinks: Sinks) {
  return (original: IoPipeline['exec'], sw: Switch): IoPipeline['exec'] =>
    function vigilExec(this: IoPipeline): unknown {
      // eslint-disable-next-line prefer-rest-params
      const result = original.apply(this, arguments as unknown as Parameters<IoPipeline['exec']>);
      if (!sw.on) return result;
      const start = nowMs();
      try {
        // exec runs more than once per pipeline (a transaction queues its EXEC through it, a
        // cluster pipeline retries through it); the pipeline's promise settles once.
        if (this[kCounted] === undefined && result === this.promise && result instanceof Promise) {
          this[kCounted] = true;
          result.then(
            (results: unknown) => countPipeline(sinks, this, results, start),
            (err: unknown) => countPipeline(sinks, this, err, start, true),
          ).catch((err: unknown) => failed('count a pipeline', err));
        }
      } catch (err) {
        failed('count a pipeline', err);
      }
      return result;
    };
}

function countPipeline(sinks: Sinks, pipeline: IoPipeline, results: unknown, start: number, rejected = false): void {
  const recorder = sinks.recorder();
  const queue = pipeline._queue;
  if (recorder === undefined || !Array.isArray(queue) || (!rejected && !Array.isArray(results))) return;
  const seconds = (nowMs() - start) / 1000;
  try {
    tallyPipeline(recorder, queue, results, rejected);
  } finally {
    recorder.flush(seconds);
  }
}

function tallyPipeline(recorder: Recorder, queue: NonNullable<IoPipeline['_queue']>, results: unknown, rejected: boolean): void {
  // Commands marked `ignore` (ASKING added on a redirection) have no entry in the results.
  const entries = !rejected && Array.isArray(results) ? results : undefined;
  let ri = 0;
  let txOps: OpInfo[] | null = null;
  let txKeys: number[] = [];
  let txErrors: boolean[] = [];
  for (let i = 0; i < queue.length; i++) {
    const cmd = queue[i]!;
    if (cmd.ignore === true) continue;
    const entry = entries?.[ri++] as [unknown, unknown] | undefined;
    if (cmd[kRec] === null) continue; // vigil's own
    // A pipeline rejected as a whole (its keys span cluster slots, the cluster is not
    // ready) sent nothing: each of its commands is an error the application sees.
    const err = entries === undefined ? (results ?? true) : Array.isArray(entry) ? entry[0] : undefined;
    const value = Array.isArray(entry) ? entry[1] : undefined;
    const op = recorder.op(cmd.name);
    switch (op.kind) {
      case Kind.Ignore:
        continue;
      case Kind.Multi:
        txOps = [];
        txKeys = [];
        txErrors = [];
        continue;
      case Kind.Discard:
        txOps = null;
        continue;
      case Kind.Exec: {
        if (txOps === null) continue;
        const ops = txOps;
        txOps = null;
        if (!err && value === null) continue; // a WATCHed key changed: nothing ran
        const replies = Array.isArray(value) ? value : undefined;
        for (let j = 0; j < ops.length; j++) {
          const r = replies?.[j];
          recorder.tally(ops[j]!, r, txKeys[j]!, !!err || txErrors[j]! || r instanceof Error);
        }
        continue;
      }
    }
    const keys = keysOf(op, Array.isArray(cmd.args) ? cmd.args.length : 1);
    if (txOps !== null) {
      // Queued: its own entry is "QUEUED", or the error that made the server refuse it.
      txOps.push(op);
      txKeys.push(keys);
      txErrors.push(!!err);
      continue;
    }
    // A pipeline's result is final: ioredis has followed any redirection by then.
    recorder.tally(op, value, keys, !!err);
  }
}

// ---------------------------------------------------------------- memory

/** An ioredis connection for the memory monitor; held weakly. */
class IoTracked implements TrackedClient {
  private readonly ref: WeakRef<IoClient>;
  constructor(client: IoClient) {
    this.ref = new WeakRef(client);
  }
  server(): string | undefined {
    const c = this.ref.deref();
    if (c === undefined) return undefined;
    const o = c.options ?? {};
    if (o.path) return String(o.path);
    if (o.sentinels) {
      // Sentinel finds the master: name the server the socket is connected to.
      const s = c.stream;
      return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : undefined;
    }
    return `${o.host ?? 'localhost'}:${o.port ?? 6379}`;
  }
  live(): boolean {
    return this.ref.deref()?.status === 'ready';
  }
  gone(): boolean {
    return this.ref.deref() === undefined;
  }
  openProbe(): Probe {
    const c = this.ref.deref();
    if (c === undefined) throw new Error('the connection is gone');
    const o = c.options ?? {};
    let host = o.host;
    let port = o.port;
    if (o.sentinels) {
      // Sentinel found the master: connect where the application's socket is connected.
      host = c.stream?.remoteAddress;
      port = c.stream?.remotePort;
      if (!host) throw new Error('the sentinel-managed connection has no master address yet');
    }
    return new RespProbe({
      path: o.path || undefined,
      host: host ?? 'localhost',
      port: port ?? 6379,
      family: typeof o.family === 'number' ? o.family : undefined,
      tls: o.tls ? (typeof o.tls === 'object' ? o.tls : {}) : undefined,
      credentials: () => ({ username: o.username, password: o.password }),
    });
  }
}
