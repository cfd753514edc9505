import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
} from '@opentelemetry/instrumentation';
import {
  booleanSetting,
  cacheSizeBytes,
  leanRegistry,
  listSetting,
  logOnce,
  numberSetting,
  redisMemoryUsageRatio,
} from '@vigil/catalog';
import type {
  IoClientClass,
  IoCommandClass,
  IoModule,
  IoPipeline,
  NrClientInternals,
  NrLinkedListModule,
  NrClientModule,
  NrModuleExports,
  NrQueueModule,
} from './internal-types';
import { describe } from './describe';
import type { MemoryMonitor } from './memory';
import { DEFAULT_OPERATIONS, labelTable } from './operations';
import type { Recorder } from './recorder';
import type { RedisInstrumentationConfig } from './types';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version';
import { unwrapMethod, wrapMethod } from './wrap';

// The client patches, the recorder and the memory monitor (with its probe) load when they are
// first needed: when the app loads ioredis or node-redis. An app without Redis never loads them.
const ioredis = () => require('./ioredis') as typeof import('./ioredis');
const nodeRedis = () => require('./node-redis') as typeof import('./node-redis');

const SCOPE = { name: PACKAGE_NAME, version: PACKAGE_VERSION };

/**
 * The node-redis methods that run a function on a connection only after an await (finding the
 * slot's node, waiting for a pooled client or a sentinel's lease), by file: `fnAt` is that
 * function's argument; with `makes`, the argument makes the function (once per target node).
 */
const CARRIERS: ReadonlyArray<{
  file: string;
  methods: ReadonlyArray<{ classes: readonly string[]; method: string; fnAt: number; makes?: boolean; optional?: boolean }>;
}> = [
  {
    file: 'cluster/index.js',
    methods: [
      { classes: ['default'], method: '_execute', fnAt: 3 },
      { classes: ['default'], method: '_executeWithPolicies', fnAt: 3, makes: true, optional: true }, // @redis/client 6
    ],
  },
  { file: 'client/pool.js', methods: [{ classes: ['RedisClientPool'], method: 'execute', fnAt: 0 }] },
  { file: 'sentinel/index.js', methods: [{ classes: ['default', 'RedisSentinelClient'], method: '_execute', fnAt: 1 }] },
];

/** The majors of ioredis and @redis/client (node-redis' core; `redis` re-exports it) this package patches. */
const IOREDIS_VERSIONS = ['>=5.0.0 <7'];
const NODE_REDIS_VERSIONS = ['>=5.0.0 <7'];

interface Settings {
  labels: Map<string, string>;
  memory: { enabled: boolean; intervalMs: number; timeoutMs: number };
}

function resolveSettings(config: RedisInstrumentationConfig): Settings {
  const names = listSetting('VIGIL_REDIS_OPERATIONS', config.operations, DEFAULT_OPERATIONS);
  const { labels, rejected } = labelTable(names);
  if (rejected.length > 0) {
    logOnce(
      `redis:operations:${rejected.join(',')}`,
      'warn',
      `VIGIL_REDIS_OPERATIONS / operations: left out ${rejected.map((r) => JSON.stringify(r)).join(', ')} (not a Redis command name, or more than 200 names); those commands count as operation="other"`,
    );
  }
  return {
    labels,
    memory: {
      enabled: booleanSetting('VIGIL_REDIS_MEMORY_METRICS', config.memoryMetrics, true),
      intervalMs: numberSetting('VIGIL_REDIS_MEMORY_REFRESH_INTERVAL_MS', config.memoryRefreshIntervalMs, 15_000, { min: 100, max: 3_600_000 }),
      timeoutMs: numberSetting('VIGIL_REDIS_MEMORY_TIMEOUT_MS', config.memoryTimeoutMs, 500, { min: 1, max: 60_000 }),
    },
  };
}

/**
 * Redis metrics under the documented names, from ioredis and node-redis (`redis` / `@redis/client`):
 * `cache_operations_total{operation,result}` with hit / miss for reads, `cache_operation_duration_seconds{operation}`,
 * and `cache_size_bytes{server}` / `redis_memory_usage_ratio{server}` from INFO memory.
 * Single commands, pipelines, MULTI / EXEC and cluster clients; see the package README for the
 * operation and result of every command.
 */
export class RedisInstrumentation extends InstrumentationBase<RedisInstrumentationConfig> {
  // Assigned from setConfig, which the base constructor calls before this class's field
  // initialisers would run, or lazily: `declare` keeps them from being reset to undefined.
  declare private _settings: Settings;
  declare private _recorder: Recorder | undefined;
  declare private _memory: MemoryMonitor | undefined;

  constructor(config: RedisInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  override setConfig(config: RedisInstrumentationConfig = {}): void {
    super.setConfig(config);
    try {
      this._settings = resolveSettings(this._config);
      this._recorder?.setLabels(this._settings.labels);
      this._memory?.configure(this._settings.memory);
    } catch (err) {
      logOnce('redis:config', 'warn', `Redis instrumentation settings could not be read (${describe(err)}); using the defaults`);
      this._settings = resolveSettings({});
    }
  }

  /** The recorder (read at every command: small enough for V8 to inline). */
  private recorder(): Recorder | undefined {
    return this._recorder ?? this.createRecorder();
  }

  /** Creates the recorder, on first use, from the configured (or process-wide) lean registry. */
  private createRecorder(): Recorder | undefined {
    try {
      const { Recorder } = require('./recorder') as typeof import('./recorder');
      this._recorder = new Recorder(this._config.registry ?? leanRegistry(), this._settings.labels);
    } catch (err) {
      logOnce('redis:recorder', 'warn', `Redis instrumentation cannot record (${describe(err)}); cache_operations_total is not reported`);
    }
    return this._recorder;
  }

  private memory(): MemoryMonitor | undefined {
    if (this._memory === undefined) {
      try {
        const { MemoryMonitor } = require('./memory') as typeof import('./memory');
        const registry = this._config.registry ?? leanRegistry();
        this._memory = new MemoryMonitor(this._settings.memory, {
          size: registry.values(cacheSizeBytes, SCOPE),
          ratio: registry.values(redisMemoryUsageRatio, SCOPE),
        });
      } catch (err) {
        logOnce('redis:memory', 'warn', `Redis memory metrics are not available (${describe(err)})`);
      }
    }
    return this._memory;
  }

  private readonly sinks = {
    recorder: () => this.recorder(),
    memory: () => this.memory(),
  };

  override enable(): void {
    super.enable();
    // The base constructor enables before this class's fields exist; _settings is set by then.
    this._memory?.configure(this._settings.memory);
  }

  override disable(): void {
    super.disable();
    this._memory?.close();
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'ioredis',
        IOREDIS_VERSIONS,
        (exports: IoModule) => this.patchIoredis(exports),
        (exports: IoModule) => this.unpatchIoredis(exports),
      ),
      new InstrumentationNodeModuleDefinition(
        '@redis/client',
        NODE_REDIS_VERSIONS,
        // The patches go to internal files: @redis/client 5 does not export RedisClient.
        (exports: unknown) => exports,
        () => undefined,
        [
          new InstrumentationNodeModuleFile(
            '@redis/client/dist/lib/client/index.js',
            NODE_REDIS_VERSIONS,
            (exports: NrClientModule) => this.patchNodeRedis(exports),
            (exports: NrClientModule) => this.unpatchNodeRedis(exports),
          ),
          new InstrumentationNodeModuleFile(
            '@redis/client/dist/lib/client/commands-queue.js',
            NODE_REDIS_VERSIONS,
            (exports: NrQueueModule) => this.patchFile(exports, () => {
              const proto = exports.default?.prototype;
              if (typeof proto?.addCommand !== 'function') throw new Error('RedisCommandsQueue#addCommand not found');
              wrapMethod(proto, 'addCommand', nodeRedis().wrapAddCommand(this.sinks));
            }),
            (exports: NrQueueModule) => unwrapMethod(exports.default?.prototype, 'addCommand'),
          ),
          new InstrumentationNodeModuleFile(
            '@redis/client/dist/lib/client/linked-list.js',
            NODE_REDIS_VERSIONS,
            (exports: NrLinkedListModule) => this.patchFile(exports, () => {
              const proto = exports.DoublyLinkedList?.prototype;
              if (typeof proto?.add !== 'function') throw new Error('DoublyLinkedList#add not found');
              wrapMethod(proto, 'add', nodeRedis().wrapListAdd(this.sinks));
            }),
            (exports: NrLinkedListModule) => unwrapMethod(exports.DoublyLinkedList?.prototype, 'add'),
          ),
          // Clients that hand a command to a connection only after an await carry vigil's marker over.
          ...CARRIERS.map(
            ({ file, methods }) =>
              new InstrumentationNodeModuleFile(
                `@redis/client/dist/lib/${file}`,
                NODE_REDIS_VERSIONS,
                (exports: NrModuleExports) => this.patchFile(exports, () => {
                  const { wrapCarryMarker } = nodeRedis();
                  for (const { classes, method, fnAt, makes, optional } of methods) {
                    for (const name of classes) {
                      const proto = exports[name]?.prototype;
                      if (typeof proto?.[method] === 'function') wrapMethod(proto, method, wrapCarryMarker(fnAt, makes));
                      else if (!optional) throw new Error(`${name}#${method} of ${file} not found; vigil's own commands through it are counted`);
                    }
                  }
                }),
                (exports: NrModuleExports) => {
                  for (const { classes, method } of methods) for (const name of classes) unwrapMethod(exports[name]?.prototype, method);
                },
              ),
          ),
        ],
      ),
    ];
  }

  private patchFile<T>(exports: T, patch: () => void): T {
    try {
      patch();
    } catch (err) {
      logOnce('redis:patch-node-redis-file', 'warn', `node-redis is not fully instrumented (${describe(err)}); some Redis commands are not counted`);
    }
    return exports;
  }

  private ioClasses(exports: IoModule): { Redis?: IoClientClass; Cluster?: IoClientClass; Pipeline?: { prototype: IoPipeline }; Command?: IoCommandClass } {
    // CommonJS: module.exports is the Redis class, with Cluster, Pipeline and Command on it. ESM
    // (import-in-the-middle): a namespace with them as named exports.
    const Redis = typeof exports === 'function' ? (exports as IoClientClass) : (exports.default ?? exports.Redis);
    const inner = exports.default as IoModule | undefined;
    return {
      Redis,
      Cluster: exports.Cluster ?? inner?.Cluster,
      Pipeline: exports.Pipeline ?? inner?.Pipeline,
      Command: exports.Command ?? inner?.Command,
    };
  }

  private patchIoredis(exports: IoModule): IoModule {
    try {
      const { Redis, Cluster, Pipeline, Command } = this.ioClasses(exports);
      const { wrapPipelineExec, wrapPipelineSendCommand, wrapSendCommand, wrapTransformReply } = ioredis();
      if (typeof Redis?.prototype?.sendCommand !== 'function') throw new Error('Redis#sendCommand not found');
      // Replies first: a command noted by sendCommand must find its reply counted.
      if (typeof Command?.prototype?.transformReply !== 'function') throw new Error('Command#transformReply not found; single commands are not counted');
      wrapMethod(Command.prototype, 'transformReply', wrapTransformReply(this.sinks));
      wrapMethod(Redis.prototype, 'sendCommand', wrapSendCommand(this.sinks, false));
      if (typeof Cluster?.prototype?.sendCommand === 'function') {
        wrapMethod(Cluster.prototype, 'sendCommand', wrapSendCommand(this.sinks, true));
      }
      if (typeof Pipeline?.prototype?.exec !== 'function' || typeof Pipeline.prototype.sendCommand !== 'function') {
        throw new Error('Pipeline#exec / #sendCommand not found; pipelines and transactions are not counted');
      }
      wrapMethod(Pipeline.prototype, 'sendCommand', wrapPipelineSendCommand());
      wrapMethod(Pipeline.prototype, 'exec', wrapPipelineExec(this.sinks));
    } catch (err) {
      logOnce('redis:patch-ioredis', 'warn', `ioredis is not fully instrumented (${describe(err)})`);
    }
    return exports;
  }

  private unpatchIoredis(exports: IoModule): void {
    const { Redis, Cluster, Pipeline, Command } = this.ioClasses(exports);
    unwrapMethod(Redis?.prototype, 'sendCommand');
    unwrapMethod(Cluster?.prototype, 'sendCommand');
    unwrapMethod(Pipeline?.prototype, 'sendCommand');
    unwrapMethod(Pipeline?.prototype, 'exec');
    unwrapMethod(Command?.prototype, 'transformReply');
  }

  private patchNodeRedis(exports: NrClientModule): NrClientModule {
    try {
      const proto = exports.default?.prototype;
      const { wrapBatch, wrapConnect, wrapSendCommand: wrapNrSendCommand } = nodeRedis();
      if (typeof proto?.connect !== 'function') throw new Error('RedisClient#connect not found');
      wrapMethod(proto, 'connect', wrapConnect(this.sinks));
      const p = proto as unknown as NrClientInternals;
      if (typeof p.sendCommand === 'function') wrapMethod(p, 'sendCommand', wrapNrSendCommand(this.sinks));
      if (typeof p._executePipeline !== 'function' || typeof p._executeMulti !== 'function') {
        throw new Error('RedisClient#_executePipeline / #_executeMulti not found; pipelines and transactions are not counted');
      }
      wrapMethod(p, '_executePipeline', wrapBatch(this.sinks, false));
      wrapMethod(p, '_executeMulti', wrapBatch(this.sinks, true));
    } catch (err) {
      logOnce('redis:patch-node-redis', 'warn', `node-redis is not fully instrumented (${describe(err)})`);
    }
    return exports;
  }

  private unpatchNodeRedis(exports: NrClientModule): void {
    const proto = exports.default?.prototype as unknown as Record<string, unknown> | undefined;
    for (const name of ['connect', 'sendCommand', '_executePipeline', '_executeMulti']) unwrapMethod(proto, name);
  }
}
