// Which Redis commands are cache operations, how each one's reply becomes a
// `result`, and which `operation` label value it is counted under.
//
// The seed (004, 方案1) labels cache_operations_total with operation get / set /
// delete and result hit / miss / success / error. vigil reads the real Redis
// commands: the operation is the lower-case command name from a bounded list
// (DEL and UNLINK are `delete`, so the seed's three names read as they are),
// every other command is `other`. The result of a read is hit or miss, counted
// per key or field for the commands that read several (MGET, HMGET, EXISTS), so
// that cache_hit_rate = hits / (hits + misses) weighs every lookup once.

/** How a command's reply is counted. */
export const enum Kind {
  /** success / error. */
  Plain = 0,
  /** One lookup: a nil reply is a miss, anything else a hit (GET, GETEX, GETDEL, HGET). */
  One = 1,
  /** One lookup per element of the array reply: nil is a miss (MGET, HMGET). */
  Each = 2,
  /** An integer count of the keys that exist: that many hits, the rest misses (EXISTS, HEXISTS). */
  Count = 3,
  /** A whole hash: empty is a miss, anything else a hit (HGETALL). */
  Whole = 4,
  /** Not a cache operation: connection plumbing the client libraries send themselves. */
  Ignore = 5,
  /** MULTI: the commands after it are queued until EXEC. */
  Multi = 6,
  /** EXEC: its array reply holds the results of the queued commands. */
  Exec = 7,
  /** DISCARD: the queued commands never run. */
  Discard = 8,
}

/** How each read command is counted. Every command not named here or in IGNORED is Kind.Plain. */
export const READS: ReadonlyMap<string, Kind> = new Map([
  ['get', Kind.One],
  ['getex', Kind.One],
  ['getdel', Kind.One],
  ['hget', Kind.One],
  ['mget', Kind.Each],
  ['hmget', Kind.Each],
  ['exists', Kind.Count],
  ['hexists', Kind.Count],
  ['hgetall', Kind.Whole],
]);

/**
 * Commands that are never counted: the handshake, database selection, client naming, cluster
 * topology and ready checks the clients send on their own, and subscription management.
 * Transaction framing (MULTI / EXEC / DISCARD) is not counted either; the queued commands are.
 */
export const IGNORED: ReadonlyMap<string, Kind> = new Map([
  ['auth', Kind.Ignore],
  ['hello', Kind.Ignore],
  ['select', Kind.Ignore],
  ['client', Kind.Ignore],
  ['readonly', Kind.Ignore],
  ['readwrite', Kind.Ignore],
  ['asking', Kind.Ignore],
  ['cluster', Kind.Ignore],
  ['info', Kind.Ignore],
  ['quit', Kind.Ignore],
  ['reset', Kind.Ignore],
  ['subscribe', Kind.Ignore],
  ['unsubscribe', Kind.Ignore],
  ['psubscribe', Kind.Ignore],
  ['punsubscribe', Kind.Ignore],
  ['ssubscribe', Kind.Ignore],
  ['sunsubscribe', Kind.Ignore],
  ['multi', Kind.Multi],
  ['exec', Kind.Exec],
  ['discard', Kind.Discard],
]);

/** Commands whose label is not their own name. */
export const ALIASES: ReadonlyMap<string, string> = new Map([
  ['del', 'delete'],
  ['unlink', 'delete'],
]);

/** The `operation` value of every command that is not in the allow-list. */
export const OTHER = 'other';

/** The default allow-list: commands that keep their own `operation` value. */
export const DEFAULT_OPERATIONS: readonly string[] = [
  // reads: hit / miss
  'get', 'mget', 'getex', 'getdel', 'hget', 'hmget', 'hgetall', 'exists', 'hexists',
  // strings
  'set', 'setex', 'psetex', 'setnx', 'mset', 'getset', 'append',
  'incr', 'incrby', 'incrbyfloat', 'decr', 'decrby',
  // keys
  'del', 'unlink', 'expire', 'pexpire', 'expireat', 'persist', 'ttl', 'pttl',
  // hashes
  'hset', 'hmset', 'hsetnx', 'hdel', 'hincrby', 'hlen',
  // lists, sets, sorted sets
  'lpush', 'rpush', 'lpop', 'rpop', 'lrange', 'llen', 'ltrim',
  'sadd', 'srem', 'smembers', 'sismember', 'scard',
  'zadd', 'zrem', 'zrange', 'zrangebyscore', 'zscore', 'zincrby', 'zcard',
  // scripts, messaging, iteration, liveness
  'eval', 'evalsha', 'publish', 'scan', 'ping',
];

/** At most this many names in the allow-list (it bounds the `operation` label's values). */
export const MAX_OPERATIONS = 200;

const PLAUSIBLE = /^[a-z][a-z0-9._|-]{0,39}$/;

/**
 * The allow-list as command name -> label value. Invalid names are returned in `rejected`
 * (the caller logs them once); `delete` stands for DEL and UNLINK.
 */
export function labelTable(names: readonly string[]): { labels: Map<string, string>; rejected: string[] } {
  const labels = new Map<string, string>();
  const rejected: string[] = [];
  for (const raw of names) {
    const name = String(raw).trim().toLowerCase();
    if (!PLAUSIBLE.test(name) || labels.size >= MAX_OPERATIONS) {
      rejected.push(String(raw).slice(0, 60));
      continue;
    }
    if (name === 'delete') {
      labels.set('del', 'delete');
      labels.set('unlink', 'delete');
    } else {
      labels.set(name, ALIASES.get(name) ?? name);
    }
  }
  return { labels, rejected };
}

/** How a lower-case command name is counted. */
export function kindOf(name: string): Kind {
  return READS.get(name) ?? IGNORED.get(name) ?? Kind.Plain;
}
