// The per-command hot path shared by the ioredis and node-redis patches: find a
// command's operation, time it, and count its reply in vigil's lean accumulators
// (DESIGN principle 3: no attribute objects, no allocation once a label set is known).
import {
  cacheOperationDurationSeconds,
  cacheOperationsTotal,
  type HistogramSeries,
  type LeanHistogramFamily,
  type LeanRegistry,
  type LeanValueFamily,
  type ValueSeries,
} from '@vigil/catalog';
import { Kind, OTHER, kindOf } from './operations';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version';

/** What vigil knows about one command name: its label, how its reply counts, and its series. */
export class OpInfo {
  hit: ValueSeries | undefined;
  miss: ValueSeries | undefined;
  success: ValueSeries | undefined;
  error: ValueSeries | undefined;
  duration: HistogramSeries | undefined;
  // The tally of the commands being counted (Recorder#tally), published by Recorder#flush.
  tHit = 0;
  tMiss = 0;
  tSuccess = 0;
  tError = 0;
  tCommands = 0;
  constructor(
    readonly label: string,
    readonly kind: Kind,
    /** For Kind.Count: how many lookups one command makes, or 0 for "one per key argument" (EXISTS). */
    readonly fixedKeys: number,
  ) {}
}

/** One command on its way to Redis (single commands; pipelines are counted from their results). */
export class Rec {
  readonly op: OpInfo;
  /** When it was sent (ms, nowMs()). */
  readonly start: number;
  /** Lookups the command makes, for Kind.Count. */
  readonly keys: number;
  /** Queued inside MULTI: its own reply is only "QUEUED"; EXEC's reply holds its result. */
  queued: boolean;
  /** Counted already (a queued command the server refused to queue). */
  done: boolean;
  /** For EXEC: the commands queued since MULTI. */
  txList: Rec[] | null;
  /** Sent by a cluster client that follows MOVED / ASK for it (node-redis): a redirection is not its result. */
  followsRedirects: boolean;
  constructor(op: OpInfo, start: number, keys: number) {
    this.op = op;
    this.start = start;
    this.keys = keys;
    this.queued = false;
    this.done = false;
    this.txList = null;
    this.followsRedirects = false;
  }
}

// Timing: a single command reads the clock (@vigil/catalog's nowMs) when it is sent and when
// its reply arrives, each time before a try block; pipelines and transactions, whose replies
// arrive together, are timed once per batch. (Sharing one reading between the replies of one
// socket read would need a microtask to forget it, and Node's queueMicrotask costs more than
// the clock.)

const MAX_NAMES = 2000;

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof Map) return v.size === 0;
  if (typeof v === 'object') {
    for (const _ in v as object) return false;
    return true;
  }
  return false;
}

function toCount(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' || v instanceof Uint8Array) return Number(String(v));
  return NaN;
}

/** Counts commands into cache_operations_total and cache_operation_duration_seconds. */
export class Recorder {
  private readonly counts: LeanValueFamily;
  private readonly durations: LeanHistogramFamily;
  private readonly byName = new Map<string, OpInfo>();
  private readonly scratch: string[] = ['', ''];
  private labels: ReadonlyMap<string, string>;
  private readonly otherPlain: OpInfo;

  constructor(registry: LeanRegistry, labels: ReadonlyMap<string, string>) {
    const scope = { name: PACKAGE_NAME, version: PACKAGE_VERSION };
    this.counts = registry.values(cacheOperationsTotal, scope);
    this.durations = registry.histogram(cacheOperationDurationSeconds, scope);
    this.labels = labels;
    this.otherPlain = new OpInfo(OTHER, Kind.Plain, 0);
  }

  /** Replaces the allow-list (setConfig); commands seen before are looked up anew. */
  setLabels(labels: ReadonlyMap<string, string>): void {
    this.labels = labels;
    this.byName.clear();
    this.name1 = this.name2 = undefined;
  }

  // The last two names looked up: a batch mostly repeats one or two commands, and the client
  // libraries pass the same string for the same command, so an identity check finds them.
  private name1: unknown;
  private op1: OpInfo | undefined;
  private name2: unknown;
  private op2: OpInfo | undefined;

  /** The OpInfo of a command name as the client library spells it ('get', 'GET', a Buffer...). */
  op(name: unknown): OpInfo {
    if (name === this.name1) return this.op1!;
    if (name === this.name2) return this.op2!;
    const info = this.lookup(name);
    if (typeof name === 'string') {
      this.name2 = this.name1;
      this.op2 = this.op1;
      this.name1 = name;
      this.op1 = info;
    }
    return info;
  }

  private lookup(name: unknown): OpInfo {
    const key = typeof name === 'string' ? name : String(name);
    const found = this.byName.get(key);
    if (found !== undefined) return found;
    const lower = key.toLowerCase();
    const kind = kindOf(lower);
    const label = this.labels.get(lower) ?? OTHER;
    const info = label === OTHER && kind === Kind.Plain ? this.otherPlain : new OpInfo(label, kind, lower === 'hexists' ? 1 : 0);
    // Command names come from code, so they are few; the bound only guards against a
    // program that makes them up.
    if (this.byName.size < MAX_NAMES) this.byName.set(key, info);
    return info;
  }

  // An OpInfo keeps the series it found, except the overflow series: each measurement that goes
  // there is counted in vigil_metric_overflow_total by the family's lookup.
  private series(op: OpInfo, result: 'hit' | 'miss' | 'success' | 'error'): ValueSeries {
    const s = this.scratch;
    s[0] = op.label;
    s[1] = result;
    const series = this.counts.get(s);
    if (!this.counts.isOverflow(series)) op[result] = series;
    return series;
  }

  private histogram(op: OpInfo): HistogramSeries {
    // The histogram has one label: get() reads only the first value.
    this.scratch[0] = op.label;
    const series = this.durations.get(this.scratch);
    if (!this.durations.isOverflow(series)) op.duration = series;
    return series;
  }

  /** The families' generations (they only grow) when the OpInfos' series were found. */
  private generations = 0;

  /** Makes the OpInfos forget their series if a family was cleared since they found them. */
  private current(): void {
    const generations = this.counts.generation + this.durations.generation;
    if (generations === this.generations) return;
    this.generations = generations;
    const forget = (op: OpInfo | undefined) => {
      if (op !== undefined) op.hit = op.miss = op.success = op.error = op.duration = undefined;
    };
    this.byName.forEach(forget);
    forget(this.otherPlain);
    forget(this.op1);
    forget(this.op2);
  }

  /** n observations of one duration, as n calls of record() would make them. */
  private observe(op: OpInfo, seconds: number, n: number): void {
    const h = op.duration ?? this.histogram(op);
    if (n === 1) {
      h.record(seconds);
      return;
    }
    if (!(seconds >= 0)) {
      for (let i = 0; i < n; i++) h.record(seconds);
      return;
    }
    const b = this.durations.boundaries;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    h.counts[i]! += n;
    h.sum += seconds * n;
    h.count += n;
    if (seconds < h.min) h.min = seconds;
    if (seconds > h.max) h.max = seconds;
  }

  private readonly touched: OpInfo[] = [];

  /**
   * Adds one command's result to the tally (raw reply, or as the client library transformed it:
   * nil stays nil, arrays stay arrays). flush() publishes it; a batch tallies all its commands
   * first, so it touches each series once.
   */
  tally(op: OpInfo, reply: unknown, keys: number, isError: boolean): void {
    if (op.tCommands === 0) this.touched.push(op);
    this.classify(op, reply, keys, isError);
  }

  /** Adds one command's result to op's tally. */
  private classify(op: OpInfo, reply: unknown, keys: number, isError: boolean): void {
    op.tCommands++;
    if (isError) {
      op.tError++;
      return;
    }
    switch (op.kind) {
      case Kind.One:
        if (reply === null || reply === undefined) op.tMiss++;
        else op.tHit++;
        return;
      case Kind.Each: {
        if (!Array.isArray(reply)) break;
        let misses = 0;
        for (let i = 0; i < reply.length; i++) if (reply[i] === null || reply[i] === undefined) misses++;
        op.tHit += reply.length - misses;
        op.tMiss += misses;
        return;
      }
      case Kind.Count: {
        const n = toCount(reply);
        if (!(n >= 0)) break;
        const hits = Math.min(n, keys);
        op.tHit += hits;
        op.tMiss += keys - hits;
        return;
      }
      case Kind.Whole:
        if (isEmpty(reply)) op.tMiss++;
        else op.tHit++;
        return;
    }
    op.tSuccess++;
  }

  /** Publishes the tally: every command in it took `seconds`. */
  flush(seconds: number): void {
    this.current();
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) this.publish(touched[i]!, seconds);
    touched.length = 0;
  }

  private publish(op: OpInfo, seconds: number): void {
    if (op.tHit > 0) (op.hit ?? this.series(op, 'hit')).value += op.tHit;
    if (op.tMiss > 0) (op.miss ?? this.series(op, 'miss')).value += op.tMiss;
    if (op.tSuccess > 0) (op.success ?? this.series(op, 'success')).value += op.tSuccess;
    if (op.tError > 0) (op.error ?? this.series(op, 'error')).value += op.tError;
    this.observe(op, seconds, op.tCommands);
    op.tHit = op.tMiss = op.tSuccess = op.tError = op.tCommands = 0;
  }

  /**
   * Counts a single command's reply or error, once; `end` is nowMs() when it arrived. A command
   * queued inside MULTI waits for EXEC (its own reply is "QUEUED"; an error means the server
   * refused to queue it, which is its result); EXEC counts the commands queued before it from
   * its reply.
   */
  settle(rec: Rec, reply: unknown, isError: boolean, end: number): void {
    if (rec.done) return;
    if (rec.txList !== null) {
      rec.done = true;
      this.exec(rec.txList, reply, isError, end);
      return;
    }
    if (rec.queued && !isError) return;
    rec.done = true;
    this.count(rec.op, reply, rec.keys, isError, (end - rec.start) / 1000);
  }

  /**
   * Counts one command on its own: the series it adds to directly, without the tally a batch
   * goes through (which only ever runs inside one synchronous call, so never meets this).
   */
  private count(op: OpInfo, reply: unknown, keys: number, isError: boolean, seconds: number): void {
    this.current();
    if (isError) (op.error ?? this.series(op, 'error')).value++;
    else if (op.kind === Kind.Plain) (op.success ?? this.series(op, 'success')).value++;
    else if (op.kind === Kind.One) {
      if (reply === null || reply === undefined) (op.miss ?? this.series(op, 'miss')).value++;
      else (op.hit ?? this.series(op, 'hit')).value++;
    } else {
      this.classify(op, reply, keys, false);
      this.publish(op, seconds);
      return;
    }
    (op.duration ?? this.histogram(op)).record(seconds);
  }

  /**
   * Counts the commands queued since MULTI from EXEC's reply: element i is the result of the
   * i-th queued command (an Error for one that failed); nil means a WATCHed key changed and
   * nothing ran (nothing is counted); a failed EXEC (EXECABORT, a lost connection) fails them all.
   */
  exec(queued: Rec[], reply: unknown, failed: boolean, end: number): void {
    if (!failed && reply === null) return;
    const replies = Array.isArray(reply) ? reply : undefined;
    for (let i = 0; i < queued.length; i++) {
      const rec = queued[i]!;
      if (rec.done) continue;
      rec.done = true;
      const r = failed ? undefined : replies !== undefined && i < replies.length ? replies[i] : 'OK';
      this.count(rec.op, r, rec.keys, failed || r instanceof Error, (end - rec.start) / 1000);
    }
  }
}

/**
 * NOSCRIPT: not the result of a single EVALSHA, because both clients answer it by sending the
 * script itself with EVAL, which is counted.
 */
export function isNoScript(err: unknown): boolean {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' && m.startsWith('NOSCRIPT');
}

/**
 * A cluster redirection (or a cluster that is briefly unavailable): a cluster client sends the
 * command again where it belongs, and that attempt is counted.
 */
export function isRedirect(err: unknown): boolean {
  const m = (err as { message?: unknown } | null)?.message;
  return typeof m === 'string' && (m.startsWith('MOVED ') || m.startsWith('ASK ') || m.startsWith('TRYAGAIN') || m.startsWith('CLUSTERDOWN'));
}

/** Lookups a command makes, for Kind.Count: a fixed number (HEXISTS) or one per argument (EXISTS keys). */
export function keysOf(op: OpInfo, argc: number): number {
  return op.fixedKeys || argc;
}
