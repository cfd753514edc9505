// The few Redis commands the distinct-user counts need, over whatever client
// the application already has (duck-typed; vigil depends on no Redis library).
export interface HllCommands {
  pfadd(key: string, members: string[]): Promise<unknown>;
  pfcount(keys: string[]): Promise<number>;
  expire(key: string, seconds: number): Promise<unknown>;
}

type Fn = (...args: unknown[]) => unknown;
const isFn = (v: unknown): v is Fn => typeof v === 'function';

function num(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  if (!Number.isFinite(n)) throw new Error(`PFCOUNT answered ${String(v).slice(0, 40)}`);
  return n;
}

/** Adapts an ioredis / node-redis / compatible client; undefined when the object has none of the known shapes. */
export function hllCommands(client: unknown): HllCommands | undefined {
  if (client === null || (typeof client !== 'object' && typeof client !== 'function')) return undefined;
  const c = client as Record<string, unknown>;
  // ioredis (Redis, Cluster) and clients with the same lower-case methods.
  if (isFn(c.pfadd) && isFn(c.pfcount) && isFn(c.expire)) {
    return {
      pfadd: async (key, members) => (c.pfadd as Fn).call(c, key, ...members),
      pfcount: async (keys) => num(await (c.pfcount as Fn).call(c, ...keys)),
      expire: async (key, seconds) => (c.expire as Fn).call(c, key, seconds),
    };
  }
  // node-redis v4+ (client and cluster).
  if (isFn(c.pfAdd) && isFn(c.pfCount) && isFn(c.expire)) {
    return {
      pfadd: async (key, members) => (c.pfAdd as Fn).call(c, key, members),
      pfcount: async (keys) => num(await (c.pfCount as Fn).call(c, keys)),
      expire: async (key, seconds) => (c.expire as Fn).call(c, key, seconds),
    };
  }
  // Anything with node-redis' sendCommand(string[]).
  if (isFn(c.sendCommand)) {
    const send = (args: string[]) => (c.sendCommand as Fn).call(c, args);
    return {
      pfadd: async (key, members) => send(['PFADD', key, ...members]),
      pfcount: async (keys) => num(await send(['PFCOUNT', ...keys])),
      expire: async (key, seconds) => send(['EXPIRE', key, String(seconds)]),
    };
  }
  return undefined;
}
