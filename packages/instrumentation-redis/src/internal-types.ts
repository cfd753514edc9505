// The few shapes of ioredis and @redis/client this package touches. The libraries
// are only ever imported as types in tests (DESIGN: instrumentations import the
// instrumented library as types); these narrow views say exactly which members
// vigil reads or wraps.

// ---------------------------------------------------------------- ioredis

/** ioredis' Command (built/Command.js). */
export interface IoCommand {
  name: string;
  args: unknown[];
  resolve: (value: unknown) => unknown;
  reject: (err: unknown) => unknown;
  /** Called by the command's resolve, with the command as `this`, on the raw reply. */
  transformReply(reply: unknown): unknown;
  [key: symbol]: unknown;
}

export interface IoCommandClass {
  prototype: IoCommand;
}

/** The options of an ioredis connection that say where and how it connects. */
export interface IoOptions {
  host?: string;
  port?: number;
  path?: string;
  family?: unknown;
  /** tls.connect options when TLS is on. */
  tls?: import('node:tls').ConnectionOptions | boolean;
  username?: string | null;
  password?: string | null;
  sentinels?: unknown;
}

/** An ioredis connection (Redis) or cluster client (Cluster). */
export interface IoClient {
  status?: string;
  options?: IoOptions;
  stream?: { remoteAddress?: string; remotePort?: number };
  sendCommand(command: IoCommand, stream?: unknown, node?: unknown): unknown;
  [key: symbol]: unknown;
}

export interface IoClientClass {
  prototype: IoClient;
}

/** ioredis' Pipeline (built/Pipeline.js); a transaction (multi()) is a Pipeline too. */
export interface IoPipeline {
  redis?: unknown;
  promise?: Promise<unknown>;
  _queue?: Array<{ name: string; args?: unknown[]; ignore?: boolean; [key: symbol]: unknown }>;
  exec(...args: unknown[]): unknown;
  /** Adds a command to the pipeline (every command of a pipeline, transaction or auto-pipeline). */
  sendCommand(command: IoCommand): unknown;
  [key: symbol]: unknown;
}

/** The exports of `ioredis`: the Redis class, with Cluster beside it (CommonJS), or a namespace (ESM). */
export interface IoModule {
  prototype?: IoClient;
  default?: IoClientClass;
  Redis?: IoClientClass;
  Cluster?: IoClientClass;
  Pipeline?: { prototype: IoPipeline };
  Command?: IoCommandClass;
}

// ---------------------------------------------------------------- @redis/client

/** The options of a node-redis client that name its server. */
export interface NrOptions {
  socket?: { host?: string; port?: number; path?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A node-redis RedisClient. */
export interface NrClient {
  _self?: NrClient;
  options?: NrOptions;
  isReady?: boolean;
  connect(): Promise<unknown>;
  [key: symbol]: unknown;
}

/** The RedisClient methods vigil wraps besides connect. */
export interface NrClientInternals {
  sendCommand(this: NrClient, args: unknown[], options?: unknown): Promise<unknown>;
  _executePipeline(this: NrClient, commands: Array<{ args?: unknown[] } | undefined>, ...rest: unknown[]): Promise<unknown>;
  _executeMulti(this: NrClient, commands: Array<{ args?: unknown[] } | undefined>, ...rest: unknown[]): Promise<unknown>;
}

/** The exports of `@redis/client/dist/lib/client/index.js`: RedisClient as the default export. */
export interface NrClientModule {
  default?: { prototype: NrClient };
}

/** What RedisCommandsQueue.addCommand puts on its to-write list. */
export interface NrQueueValue {
  args?: unknown;
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

export interface NrAddOptions {
  chainId?: symbol;
  [key: string]: unknown;
}

/** @redis/client's RedisCommandsQueue (dist/lib/client/commands-queue.js). */
export interface NrQueue {
  addCommand(args: unknown[], options?: NrAddOptions): Promise<unknown>;
  [key: symbol]: unknown;
}

export interface NrQueueModule {
  default?: { prototype: NrQueue };
}

/** @redis/client's DoublyLinkedList (dist/lib/client/linked-list.js). */
export interface NrLinkedList {
  add(value: unknown, asap?: boolean): unknown;
}

/** A module whose exported classes vigil wraps methods of (RedisCluster, RedisClientPool, the sentinel clients). */
export type NrModuleExports = Record<string, { prototype?: Record<string, (...args: unknown[]) => unknown> } | undefined>;

export interface NrLinkedListModule {
  DoublyLinkedList?: { prototype: NrLinkedList };
}
