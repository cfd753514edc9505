// The few Redis commands the distinct-user counts need, over whatever client
// the application already has (duck-typed; vigil depends on no Redis library).
//
// They are vigil's commands, not the application's cache operations: each is issued with
// sendInternal (@vigil/catalog), so that @vigil/instrumentation-redis leaves it out of
// cache_operations_total and cache_operation_duration_seconds, and the trace
// instrumentations of ioredis and node-redis make no span of it.
import { sendInternal } from '@vigil/catalog/internal-commands';

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
      pfadd: (key, members) => sendInternal(() => (c.pfadd as Fn).call(c, key, ...members)),
      pfcount: async (keys) => num(await sendInternal(() => (c.pfcount as Fn).call(c, ...keys))),
      expire: (key, seconds) => sendInternal(() => (c.expire as Fn).call(c, key, seconds)),
    };
  }
  // node-redis v4+ (client and cluster).
  if (isFn(c.pfAdd) && isFn(c.pfCount) && isFn(c.expire)) {
    return {
      pfadd: (key, members) => sendInternal(() => (c.pfAdd as Fn).call(c, key, members)),
      pfcount: async (keys) => num(await sendInternal(() => (c.pfCount as Fn).call(c, keys))),
      expire: (key, seconds) => sendInternal(() => (c.expire as Fn).call(c, key, seconds)),
    };
  }
  // Anything with node-redis' sendCommand(string[]).
  if (isFn(c.sendCommand)) {
    const send = (args: string[]) => sendInternal(() => (c.sendCommand as Fn).call(c, args));
    return {
      pfadd: (key, members) => send(['PFADD', key, ...members]),
      pfcount: async (keys) => num(await send(['PFCOUNT', ...keys])),
      expire: (key, seconds) => send(['EXPIRE', key, String(seconds)]),
    };
  }
  return undefined;
}
