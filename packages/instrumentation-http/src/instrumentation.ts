import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InstrumentationBase, type InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { leanRegistry, listSetting, logOnce } from '@vigil/catalog';
import { expressDefinition, routerDefinition } from './express';
import { koaDefinition } from './koa';
import { HttpRecorder } from './recorder';
import { resolveSettings } from './settings';
import type { Shim } from './shim';
import type { HttpServerInstrumentationConfig } from './types';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version';

/**
 * HTTP server metrics under the documented names — `http_requests_total`,
 * `http_request_duration_seconds` and `http_concurrent_connections` — for every
 * `node:http` / `node:https` server in the process, taken from Node's
 * `http.server.request.start` and `http.server.response.finish` diagnostics
 * channels (`http` itself is not patched). Express 4/5, Fastify and Koa with
 * @koa/router supply route templates for the `endpoint` label.
 *
 * Recording goes into vigil's lean registry (a MetricProducer that @vigil/node
 * hands to its readers), not through OTel meters: see DESIGN principle 3.
 */
export class HttpServerInstrumentation extends InstrumentationBase<HttpServerInstrumentationConfig> {
  // `declare`: InstrumentationBase's constructor calls enable() before this
  // class's fields would be initialised, so no initialiser may reset it.
  declare private _recorder: HttpRecorder | undefined;

  constructor(config: HttpServerInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  /** wrap/unwrap of InstrumentationBase for the framework patches. */
  protected shim(): Shim {
    return {
      wrap: (target, name, wrapper) => {
        this._wrap(target, name, wrapper as never);
      },
      unwrap: (target, name) => {
        this._unwrap(target, name);
      },
    };
  }

  protected override init(): InstrumentationModuleDefinition[] {
    const shim = this.shim();
    const defs = [expressDefinition(shim), routerDefinition(shim), koaDefinition(shim)];
    // InstrumentationBase calls init() from its constructor, after it has set _config.
    for (const name of listSetting('VIGIL_HTTP_EXPRESS_MODULES', this._config?.expressModules, [])) {
      if (name !== 'express' && /^(@[\w.-]+\/)?[\w.-]+$/.test(name)) defs.push(expressDefinition(shim, name));
      else if (name !== 'express') logOnce(`setting:VIGIL_HTTP_EXPRESS_MODULES:${name.slice(0, 80)}`, 'warn', `VIGIL_HTTP_EXPRESS_MODULES: "${name.slice(0, 80)}" is not a package name; ignoring it`);
    }
    return defs;
  }

  private recorder(): HttpRecorder {
    if (this._recorder === undefined) {
      const config = this._config;
      this._recorder = new HttpRecorder(resolveSettings(config), config.registry ?? leanRegistry());
    }
    return this._recorder;
  }

  override enable(): void {
    super.enable();
    this.patchLoadedModules();
    this.recorder().subscribe();
  }

  override disable(): void {
    super.disable();
    this._recorder?.unsubscribe();
  }

  override setConfig(config: HttpServerInstrumentationConfig = {}): void {
    super.setConfig(config);
    if (this._recorder !== undefined) this._recorder.configure(resolveSettings(this._config));
  }

  /**
   * Frameworks already loaded when vigil is enabled (vigil started from code
   * after `require('express')`) never pass through require-in-the-middle; patch
   * them from the require cache instead. Routers and routes created before this
   * point have no mount tags, so their requests may report 'unmatched'.
   */
  private patchLoadedModules(): void {
    const base = require.main?.filename ?? join(process.cwd(), 'index.js');
    let req: NodeJS.Require;
    try {
      req = createRequire(base);
    } catch {
      return;
    }
    // The definitions InstrumentationBase hooks and unpatches on disable();
    // getModuleDefinitions() would build fresh copies through init().
    const defs = (this as unknown as { _modules?: InstrumentationModuleDefinition[] })._modules ?? [];
    for (const def of defs) {
      if (def.moduleExports !== undefined || typeof def.patch !== 'function') continue;
      try {
        const file = req.resolve(def.name);
        const cached = require.cache[file];
        if (!cached?.loaded) continue;
        const version = packageVersion(file, def.name);
        def.moduleExports = cached.exports;
        def.moduleVersion = version;
        def.patch(cached.exports, version);
      } catch (err) {
        if ((err as NodeJS.ErrnoException)?.code !== 'MODULE_NOT_FOUND') {
          logOnce(`http:late-patch:${def.name}`, 'warn', `could not patch the already loaded ${def.name} (${err instanceof Error ? err.message : String(err)})`);
        }
      }
    }
  }
}

function packageVersion(file: string, name: string): string | undefined {
  let dir = dirname(file);
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
        if (json.name === name || dir.endsWith(name)) return json.version;
      } catch {
        return undefined;
      }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}
