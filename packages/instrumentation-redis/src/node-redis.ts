// node-redis (@redis/client 5 and 6).
//
// Single commands: RedisClient#sendCommand hands each command to
// RedisCommandsQueue#addCommand(args, options), which creates the command's promise
// and puts a { args, resolve, reject } record on the queue's to-write list
// (DoublyLinkedList#add). vigil notes the command in addCommand and wraps that
// record's resolve / reject when it is added, so a reply is counted without an
// extra promise. Should a version add the record differently, vigil falls back to
// watching the promise addCommand returns.
//
// Pipelines and transactions: RedisClient#_executePipeline and #_executeMulti hand
// all their commands to the queue in one synchronous loop. vigil counts them from
// the batch's result (one promise callback per batch): the raw replies of a
// pipeline, EXEC's raw reply of a transaction. A pipeline with a failed command
// rejects with that error alone; only then vigil reads each command's own promise.
//
// node-redis' cluster client follows MOVED / ASK for single commands (and, from
// @redis/client 6, for transactions) by sending them again through another node's
// client; the commands it routes that way carry a slot number. Their redirection
// error is not counted, the attempt that answers is (once per logical command).
// Redirection errors nobody follows (pipelines, transactions in 5.x, a standalone
// client talking to a cluster node) reach the application and count as errors.
//
// RedisClient#connect tells the memory monitor about every connection the
// application (or a pool, a cluster, a sentinel client) opens.
import { logOnce } from '@vigil/catalog';
import { nowMs } from '@vigil/catalog/clock';
import { asInternal, internalMarker, isInternalCommand } from '@vigil/catalog/internal-commands';
import type { NrAddOptions, NrClient, NrQueue, NrQueueValue } from './internal-types';
import type { ConnectionOptions } from 'node:tls';
import { describe } from './describe';
import type { MemoryMonitor, Probe, TrackedClient } from './memory';
import { RespProbe } from './probe';
import { Kind } from './operations';
import { isNoScript, isRedirect, keysOf, Rec, type Recorder } from './recorder';
import type { Switch } from './wrap';

const kState = Symbol('vigil.redis.state');

interface QueueState {
  /** The commands queued since a MULTI sent on its own (sendCommand(['MULTI'])), until EXEC or DISCARD. */
  tx: Rec[] | null;
}

/** The instrumentation's recorder and memory monitor, read at every command. */
export interface Sinks {
  recorder(): Recorder | undefined;
  memory(): MemoryMonitor | undefined;
}

function failed(what: string, err: unknown): void {
  logOnce(`redis:node-redis:${what}`, 'warn', `node-redis instrumentation failed to ${what} and goes on without it (${describe(err)})`);
}

/** The commands of a pipeline or transaction while it hands them to the queue. */
class Batch {
  added = 0;
  readonly promises: Promise<unknown>[] = [];
}

// Set while _executePipeline / _executeMulti run their synchronous part.
let batch: Batch | undefined;
// Set by addCommand for the one DoublyLinkedList#add call it makes; taken by that call.
let pending: Rec | undefined;
// Counts addCommand calls, so that sendCommand can tell a command rejected before it reached the queue.
let addCalls = 0;
// One adapter per client, however often it connects.
const trackedClients = new WeakMap<object, NrTracked>();

// ---------------------------------------------------------------- single commands

/** The wrapper for RedisCommandsQueue#addCommand. */
export function wrapAddCommand(sinks: Sinks) {
  return (original: NrQueue['addCommand'], sw: Switch): NrQueue['addCommand'] =>
    function vigilAddCommand(this: NrQueue, args: unknown[], options?: NrAddOptions): Promise<unknown> {
      if (!sw.on) return original.call(this, args, options);
      addCalls++;
      const b = batch;
      if (b !== undefined) {
        const promise = original.call(this, args, options);
        b.added++;
        b.promises.push(promise);
        return promise;
      }
      // Read outside the try block: inside one, V8 calls the clock through its slow path.
      const sent = nowMs();
      let rec: Rec | undefined;
      try {
        rec = see(this, sinks, args, sent);
        // The cluster client routes the commands it sends again on MOVED / ASK with a slot number.
        if (rec !== undefined && options !== null && typeof options === 'object' && 'slotNumber' in options) rec.followsRedirects = true;
      } catch (err) {
        failed('count a command', err);
      }
      if (rec === undefined) return original.call(this, args, options);
      pending = rec;
      let promise: Promise<unknown> | undefined;
      try {
        promise = original.call(this, args, options);
      } finally {
        if (pending !== undefined) {
          // The record was not added to the list (the queue is full, the signal was aborted,
          // or this version adds it differently): count through the promise instead.
          pending = undefined;
          if (promise !== undefined) watchPromise(sinks, rec, promise);
        }
      }
      return promise;
    };
}

/** The wrapper for DoublyLinkedList#add: wraps the resolve / reject of the record addCommand adds. */
export function wrapListAdd(sinks: Sinks) {
  return (original: (value: unknown, asap?: boolean) => unknown, sw: Switch) =>
    function vigilListAdd(this: unknown, value: unknown, asap?: boolean): unknown {
      const rec = pending;
      if (!sw.on) return original.call(this, value, asap);
      if (rec !== undefined) {
        const v = value as NrQueueValue;
        if (v !== null && typeof v === 'object' && typeof v.resolve === 'function' && typeof v.reject === 'function') {
          pending = undefined;
          try {
            wrapValue(sinks, rec, v);
          } catch (err) {
            failed('count a command', err);
          }
        }
      }
      return original.call(this, value, asap);
    };
}

function see(queue: NrQueue, sinks: Sinks, args: unknown[], sent: number): Rec | undefined {
  let state = queue[kState] as QueueState | undefined;
  if (state === undefined) queue[kState] = state = { tx: null };
  if (!Array.isArray(args) || args.length === 0) return undefined;
  const recorder = sinks.recorder();
  // vigil's own commands are not counted at all, nor do they open or close a transaction.
  if (recorder === undefined || isInternalCommand()) return undefined;
  const op = recorder.op(args[0]);
  switch (op.kind) {
    case Kind.Ignore:
      return undefined;
    case Kind.Multi:
      if (state.tx === null) state.tx = [];
      return undefined;
    case Kind.Discard:
      state.tx = null;
      return undefined;
  }
  const rec = new Rec(op, sent, op.kind === Kind.Count ? keysOf(op, args.length - 1) : 0);
  if (op.kind === Kind.Exec) {
    rec.txList = state.tx ?? [];
    state.tx = null;
  } else if (state.tx !== null) {
    rec.queued = true;
    state.tx.push(rec);
  }
  return rec;
}

function wrapValue(sinks: Sinks, rec: Rec, v: NrQueueValue): void {
  const resolve = v.resolve;
  const reject = v.reject;
  v.resolve = (reply: unknown): void => {
    const end = nowMs();
    try {
      settle(sinks, rec, reply, false, end);
    } catch (err) {
      failed('count a reply', err);
    }
    resolve(reply);
  };
  v.reject = (err: unknown): void => {
    const end = nowMs();
    try {
      if (!isRetried(rec, err)) settle(sinks, rec, err, true, end);
    } catch (e) {
      failed('count a reply', e);
    }
    reject(err);
  };
}

/** A single command's error that is not its result: node-redis sends it again (EVAL for EVALSHA, another node for MOVED / ASK). */
function isRetried(rec: Rec, err: unknown): boolean {
  return isNoScript(err) || (rec.followsRedirects && isRedirect(err));
}

function watchPromise(sinks: Sinks, rec: Rec, promise: Promise<unknown>): void {
  promise
    .then(
      (reply) => settle(sinks, rec, reply, false, nowMs()),
      (err) => {
        if (!isRetried(rec, err)) settle(sinks, rec, err, true, nowMs());
      },
    )
    .catch((err) => failed('count a reply', err));
}

function settle(sinks: Sinks, rec: Rec, value: unknown, isError: boolean, end: number): void {
  sinks.recorder()?.settle(rec, value, isError, end);
}

/**
 * The wrapper for RedisClient#sendCommand: a command the client rejects before handing it to
 * its queue (ClientClosedError, ClientOfflineError) is an error the application sees.
 */
export function wrapSendCommand(sinks: Sinks) {
  return (original: (this: NrClient, args: unknown[], options?: unknown) => Promise<unknown>, sw: Switch) =>
    function vigilSendCommand(this: NrClient, args: unknown[], options?: unknown): Promise<unknown> {
      const before = addCalls;
      const result = original.call(this, args, options);
      if (!sw.on) return result;
      try {
        if (addCalls === before && batch === undefined && result instanceof Promise && !isInternalCommand()) {
          const start = nowMs();
          result.catch((err: unknown) => countFailedBatch(sinks, [{ args }], err, start, false)).catch(() => undefined);
        }
      } catch (err) {
        failed('count a rejected command', err);
      }
      return result;
    };
}

// ---------------------------------------------------------------- pipelines and transactions

type Commands = Array<{ args?: unknown[] } | undefined>;
/** The commands of a batch (RedisClient#_executePipeline's list) or one command's args. */
type ArgsList = ReadonlyArray<{ args?: unknown[] } | undefined>;

function argsAt(list: ArgsList, i: number): unknown[] | undefined {
  const args = list[i]?.args;
  return Array.isArray(args) && args.length > 0 ? args : undefined;
}

/** The wrapper for RedisClient#_executePipeline (multi false) and #_executeMulti (multi true). */
export function wrapBatch(sinks: Sinks, multi: boolean) {
  return (original: (this: NrClient, commands: Commands, ...rest: unknown[]) => Promise<unknown>, sw: Switch) =>
    function vigilBatch(this: NrClient, commands: Commands, ...rest: unknown[]): Promise<unknown> {
      if (!sw.on || !Array.isArray(commands) || isInternalCommand()) return original.call(this, commands, ...rest);
      const b = new Batch();
      const outer = batch;
      batch = b;
      const start = nowMs();
      let result: Promise<unknown>;
      try {
        result = original.call(this, commands, ...rest);
      } finally {
        batch = outer;
      }
      try {
        if (result instanceof Promise) {
          // The batch's own list (each entry's args stay as they were sent).
          const argsList: ArgsList = commands;
          result
            .then(
              (replies) => countBatch(sinks, argsList, replies, multi, start),
              (err) => {
                // _executeMulti(commands, selectedDB, slotNumber, chainId): the cluster client's
                // redirect-following path passes the slot; a transaction routed without it is not
                // sent again on MOVED.
                const redirectsFollowed = multi && rest[1] !== undefined;
                if (multi || b.added === 0) countFailedBatch(sinks, argsList, err, start, redirectsFollowed);
                else countFailedPipeline(sinks, argsList, b.promises, start);
              },
            )
            .catch((err) => failed('count a batch', err));
        }
      } catch (err) {
        failed('count a batch', err);
      }
      return result;
    };
}

/** A settled pipeline (replies[i] is command i's raw reply) or transaction (EXEC's raw reply). */
function countBatch(sinks: Sinks, argsList: ArgsList, replies: unknown, multi: boolean, start: number): void {
  const recorder = sinks.recorder();
  if (recorder === undefined || !Array.isArray(replies)) return;
  const seconds = (nowMs() - start) / 1000;
  try {
    for (let i = 0; i < argsList.length; i++) {
      const args = argsAt(argsList, i);
      if (args === undefined) continue;
      const op = recorder.op(args[0]);
      if (op.kind >= Kind.Ignore) continue;
      const r = i < replies.length ? replies[i] : multi ? 'OK' : undefined;
      // In a transaction a failed command is an error reply inside EXEC's array.
      recorder.tally(op, r, keysOf(op, args.length - 1), r instanceof Error);
    }
  } finally {
    recorder.flush(seconds);
  }
}

/** node-redis' WatchError (its `name` is plain 'Error'): EXEC answered nil, or the client knew a WATCHed key was invalidated. */
function isWatchError(err: unknown): boolean {
  const e = err as { name?: unknown; constructor?: { name?: unknown } } | null;
  return e?.constructor?.name === 'WatchError' || e?.name === 'WatchError';
}

/**
 * A transaction that failed (EXECABORT, a lost connection) or commands rejected before they reached
 * the queue (the client is closed): every command is an error. Not counted: a WatchError (a WATCHed
 * key changed, nothing ran) and a transaction's cluster redirection (the cluster client sends it
 * again to the right node).
 */
function countFailedBatch(sinks: Sinks, argsList: ArgsList, err: unknown, start: number, redirectsFollowed: boolean): void {
  if (isWatchError(err) || (redirectsFollowed && isRedirect(err))) return;
  const recorder = sinks.recorder();
  if (recorder === undefined) return;
  const seconds = (nowMs() - start) / 1000;
  try {
    for (let i = 0; i < argsList.length; i++) {
      const args = argsAt(argsList, i);
      if (args === undefined) continue;
      const op = recorder.op(args[0]);
      if (op.kind < Kind.Ignore) recorder.tally(op, undefined, 0, true);
    }
  } finally {
    recorder.flush(seconds);
  }
}

/**
 * A pipeline rejected with its first failed command's error: every command's own promise tells its
 * result. Every error counts, a redirection too: node-redis does not send a pipeline again.
 */
function countFailedPipeline(sinks: Sinks, argsList: ArgsList, promises: Promise<unknown>[], start: number): void {
  void Promise.allSettled(promises).then((outcomes) => {
    const recorder = sinks.recorder();
    if (recorder === undefined) return;
    const seconds = (nowMs() - start) / 1000;
    try {
      for (let i = 0; i < argsList.length && i < outcomes.length; i++) {
        const args = argsAt(argsList, i);
        if (args === undefined) continue;
        const op = recorder.op(args[0]);
        if (op.kind >= Kind.Ignore) continue;
        const o = outcomes[i]!;
        if (o.status === 'fulfilled') recorder.tally(op, o.value, keysOf(op, args.length - 1), false);
        else recorder.tally(op, undefined, 0, true);
      }
    } finally {
      recorder.flush(seconds);
    }
  });
}

// ---------------------------------------------------------------- vigil's own commands

/** fn, raising vigil's marker (@vigil/catalog's internal-commands.ts) while it runs. */
function carryingMarker<F extends (...args: never[]) => unknown>(fn: F): F {
  return function (this: unknown, ...args: Parameters<F>) {
    return asInternal(fn, this, args);
  } as F;
}

/**
 * The wrapper for the methods through which node-redis' cluster and pool clients hand a command
 * to a node's or a pooled client only after an await (finding the slot's node, waiting for a
 * free client): when vigil's marker is raised at the call, the function they call later
 * (argument `fnAt`) raises it too, so that the command is still known as vigil's own.
 * `makes`: the argument makes that function (RedisCluster#_executeWithPolicies' makeFn).
 */
export function wrapCarryMarker(fnAt: number, makes = false) {
  return (original: (...args: unknown[]) => unknown, sw: Switch) =>
    function vigilCarryMarker(this: unknown): unknown {
      // eslint-disable-next-line prefer-rest-params
      const args = arguments as unknown as unknown[];
      if (sw.on && internalMarker.depth > 0 && typeof args[fnAt] === 'function') {
        const f = args[fnAt] as (...a: unknown[]) => unknown;
        const copy = Array.prototype.slice.call(args);
        copy[fnAt] = makes
          ? function (this: unknown, ...a: unknown[]) {
              const made = f.apply(this, a);
              return typeof made === 'function' ? carryingMarker(made as (...b: unknown[]) => unknown) : made;
            }
          : carryingMarker(f);
        return original.apply(this, copy);
      }
      return original.apply(this, args);
    };
}

// ---------------------------------------------------------------- connections and memory

/** The wrapper for RedisClient#connect: remembers the connection for the memory gauges. */
export function wrapConnect(sinks: Sinks) {
  return (original: NrClient['connect'], sw: Switch): NrClient['connect'] =>
    function vigilConnect(this: NrClient): Promise<unknown> {
      if (!sw.on) return original.apply(this);
      try {
        const self = this._self ?? this;
        let tracked = trackedClients.get(self);
        if (tracked === undefined) trackedClients.set(self, (tracked = new NrTracked(self)));
        sinks.memory()?.track(tracked);
      } catch (err) {
        failed('note a connection', err);
      }
      return original.apply(this);
    };
}

class NrTracked implements TrackedClient {
  private readonly ref: WeakRef<NrClient>;
  constructor(client: NrClient) {
    this.ref = new WeakRef(client);
  }
  server(): string | undefined {
    const socket = this.ref.deref()?.options?.socket;
    if (socket?.path) return String(socket.path);
    return `${socket?.host ?? 'localhost'}:${socket?.port ?? 6379}`;
  }
  live(): boolean {
    return this.ref.deref()?.isReady === true;
  }
  gone(): boolean {
    return this.ref.deref() === undefined;
  }
  openProbe(): Probe {
    const c = this.ref.deref();
    if (c === undefined) throw new Error('the connection is gone');
    const o = c.options ?? {};
    const socket = o.socket ?? {};
    return new RespProbe({
      path: typeof socket.path === 'string' ? socket.path : undefined,
      host: socket.host ?? 'localhost',
      port: socket.port ?? 6379,
      // node-redis hands its socket options to tls.connect as they are.
      tls: socket.tls ? (socket as ConnectionOptions) : undefined,
      credentials: async () => {
        if (typeof o.username === 'string' || typeof o.password === 'string') {
          return { username: o.username as string | undefined, password: o.password as string | undefined };
        }
        const provider = o.credentialsProvider as { type?: string; credentials?: () => Promise<{ username?: string; password?: string }> } | undefined;
        if (provider === undefined) return undefined;
        if (provider.type === 'async-credentials-provider' && typeof provider.credentials === 'function') return provider.credentials();
        throw new Error(`a ${String(provider.type)} credentials provider is not supported for the INFO connection`);
      },
    });
  }
}
