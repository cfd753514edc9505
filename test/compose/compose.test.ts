/**
 * docker-compose.yml, Dockerfile, .dockerignore and alert-relay/relay.yml.
 *
 * Docker cannot run here, so the stack is never started. What can be proven
 * without it is proven with the real programs: Debian's docker-compose (1.29)
 * validates and normalises the file (`docker-compose config`), and the alert
 * relay's own CLI — the command the compose service runs — loads the relay
 * configuration compose mounts and answers on the port Alertmanager posts to.
 * The rest is cross-checked against the files the containers read:
 * prometheus/prometheus.yml, alertmanager/alertmanager.yml,
 * otel-collector/config.yaml, grafana/provisioning, the Dockerfile and the
 * build output of `tsc -b` (scripts/test.sh builds before mocha runs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { expect } from 'chai';
import { parse } from 'yaml';

const REPO_ROOT = resolve(__dirname, '..', '..', '..');
const COMPOSE_FILE = 'docker-compose.yml';

// ------------------------------------------------------------------ helpers

interface ComposeResult {
  status: number | null;
  stdout: string;
  stderr: string;
  transcript: string;
}

/** The only variables the compose file requires; sentinels that must turn up exactly where they belong. */
const REQUIRED_ENV = { GRAFANA_ADMIN_PASSWORD: 'sentinel-grafana-5f2c', POSTGRES_PASSWORD: 'sentinel-postgres-9b41' } as const;

/**
 * Runs Debian's docker-compose on the repository's file with exactly `env`
 * (plus PATH/HOME) and an empty env file, so neither the developer's shell
 * nor a local .env can make a missing variable look set.
 */
function compose(args: readonly string[], env: Record<string, string>): ComposeResult {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-compose-'));
  try {
    const envFile = join(dir, 'empty.env');
    writeFileSync(envFile, '');
    const full = ['--env-file', envFile, '-f', COMPOSE_FILE, ...args];
    const r = spawnSync('docker-compose', full, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT'
        ? 'docker-compose is not installed: run scripts/setup.sh (Debian package docker-compose)'
        : `docker-compose failed to run: ${r.error.message}`);
    }
    const stdout = r.stdout ?? '';
    const stderr = r.stderr ?? '';
    return { status: r.status, stdout, stderr, transcript: `$ docker-compose ${full.join(' ')}\n(exit ${r.status})\n${stdout}${stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Healthcheck { test?: string[] | string; interval?: string; timeout?: string; retries?: number; start_period?: string; disable?: boolean }
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition?: string }>;
  profiles?: string[];
  secrets?: Array<{ source: string }>;
}
interface ComposeConfig {
  services: Record<string, Service>;
  secrets?: Record<string, { file: string }>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

function repoFile(rel: string): string {
  return readFileSync(join(REPO_ROOT, rel), 'utf8');
}

function repoYaml<T>(rel: string): T {
  return parse(repoFile(rel), { merge: true }) as T;
}

/** A bind mount of the normalised configuration: `source:target[:mode]`. */
interface Mount { source: string; target: string; mode: string }
function bindMounts(s: Service): Mount[] {
  return (s.volumes ?? [])
    .map((v) => {
      const [source = '', target = '', mode = 'rw'] = v.split(':');
      return { source, target, mode };
    })
    .filter((m) => isAbsolute(m.source));
}

/** The repository file a container path comes from, through the service's bind mounts. */
function hostPathOf(s: Service, containerPath: string): string | undefined {
  for (const m of bindMounts(s)) {
    if (containerPath === m.target) return m.source;
    if (containerPath.startsWith(`${m.target}/`)) return join(m.source, containerPath.slice(m.target.length + 1));
  }
  return undefined;
}

/** Container ports a service listens on for its peers (`expose`, plus the container side of `ports`). */
function containerPorts(s: Service): Set<number> {
  const out = new Set<number>((s.expose ?? []).map(Number));
  for (const p of s.ports ?? []) {
    const m = /:(\d+)(?:\/\w+)?$/.exec(p);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** A Dockerfile: default ARG values and its stages. */
interface Stage { name?: string; from: string; lines: string[] }
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') && current === '') continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim());
    current = '';
  }
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$/i.exec(l);
    if (from) {
      const image = from[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
      stages.push({ from: image, name: from[2], lines: [] });
      continue;
    }
    const arg = /^ARG\s+(\w+)=(\S+)$/i.exec(l);
    if (arg && stages.length === 0) {
      args[arg[1]!] = arg[2]!;
      continue;
    }
    stages.at(-1)?.lines.push(l);
  }
  return { args, stages };
}

/** A `host:port` of a URL or a Prometheus target. */
function hostPort(s: string): { host: string; port: number } {
  const m = /^(?:\w+:\/\/)?([^/:]+):(\d+)/.exec(s);
  if (!m) throw new Error(`no host:port in ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Reads a tsconfig.json of this repository (plain JSON). */
function tsconfig(projectDir: string): { references?: Array<{ path: string }>; compilerOptions?: { outDir?: string; rootDir?: string } } {
  return JSON.parse(readFileSync(join(projectDir, 'tsconfig.json'), 'utf8'));
}

/** Every project `tsc -b <roots>` builds: the roots and what they reference, transitively. */
function projectsBuilt(roots: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    if (seen.has(dir)) return;
    seen.add(dir);
    for (const ref of tsconfig(dir).references ?? []) visit(resolve(dir, ref.path));
  };
  roots.forEach((r) => visit(resolve(REPO_ROOT, r)));
  return seen;
}

/** The nearest folder above `file` with a tsconfig.json (the TypeScript project whose output it is). */
function owningProject(file: string): string | undefined {
  for (let dir = dirname(file); dir.startsWith(REPO_ROOT) && dir !== REPO_ROOT; dir = dirname(dir)) {
    if (existsSync(join(dir, 'tsconfig.json'))) return dir;
  }
  return undefined;
}

function envOf(s: Service): Record<string, string> {
  return s.environment ?? {};
}

// ------------------------------------------------------------------ inputs

/** docker-compose's own reading of the file (interpolated with the sentinels, anchors merged). */
let config: ComposeConfig;
/** The file as written (for what interpolation would hide). */
const raw = repoFile(COMPOSE_FILE);
const rawConfig = parse(raw, { merge: true }) as ComposeConfig;
const dockerfile = parseDockerfile(repoFile('Dockerfile'));
const rootPackage = JSON.parse(repoFile('package.json')) as { workspaces: string[]; devDependencies: Record<string, string> };

const EXPECTED_SERVICES = ['ai-gateway', 'ai-gateway-otlp', 'alert-relay', 'alertmanager', 'grafana', 'otel-collector', 'postgres', 'prometheus', 'redis'];

describe('the compose stack', () => {
  before(() => {
    const r = compose(['config'], { ...REQUIRED_ENV });
    if (r.status !== 0) throw new Error(`docker-compose config failed:\n${r.transcript}`);
    config = parse(r.stdout) as ComposeConfig;
  });

  // ------------------------------------------------------------------ tests

  describe('docker-compose.yml: docker-compose config (Debian docker-compose 1.29)', () => {
    it('accepts the file with the required variables set, and lists every service of the stack', () => {
      const r = compose(['config', '--services'], { ...REQUIRED_ENV });
      expect(r.status, r.transcript).to.equal(0);
      expect(r.stdout.trim().split('\n').sort(), r.transcript).to.deep.equal(EXPECTED_SERVICES);
      const profiles = compose(['config', '--profiles'], { ...REQUIRED_ENV });
      expect(profiles.status, profiles.transcript).to.equal(0);
      expect(profiles.stdout.trim().split('\n'), profiles.transcript).to.deep.equal(['otlp']);
    });

    for (const missing of Object.keys(REQUIRED_ENV) as Array<keyof typeof REQUIRED_ENV>) {
      it(`refuses to run without ${missing}, and says which variable to set`, () => {
        const env: Record<string, string> = { ...REQUIRED_ENV };
        delete env[missing];
        const r = compose(['config', '-q'], env);
        expect(r.status, r.transcript).to.not.equal(0);
        expect(r.stderr, r.transcript).to.contain(`set ${missing}`);
      });
    }

    it('puts each password from the environment exactly where it belongs, and nowhere else', () => {
      const holders: string[] = [];
      for (const [name, s] of Object.entries(config.services)) {
        for (const [k, v] of Object.entries(envOf(s))) {
          for (const [variable, sentinel] of Object.entries(REQUIRED_ENV)) if (String(v).includes(sentinel)) holders.push(`${name}.${k}=${variable}`);
        }
      }
      expect(holders.sort()).to.deep.equal([
        'ai-gateway-otlp.PGPASSWORD=POSTGRES_PASSWORD',
        'ai-gateway.PGPASSWORD=POSTGRES_PASSWORD',
        'grafana.GF_SECURITY_ADMIN_PASSWORD=GRAFANA_ADMIN_PASSWORD',
        'postgres.POSTGRES_PASSWORD=POSTGRES_PASSWORD',
      ]);
    });
  });

  describe('docker-compose.yml: images', () => {
    /** A tag naming a release: at least major.minor, never latest, never a floating major. */
    const PINNED = /^[a-z0-9][a-z0-9._/-]*:v?\d+\.\d+(?:\.\d+)?(?:-[a-z0-9.-]+)?$/;

    it('every service runs a pinned image (no latest, no untagged, no bare major)', () => {
      for (const [name, s] of Object.entries(config.services)) {
        expect(s.image, `${name}: image`).to.be.a('string');
        expect(s.image, `${name}: ${s.image}`).to.match(PINNED);
        expect(s.image, name).to.not.match(/:latest$/);
      }
    });

    it('every base image of the Dockerfile is pinned the same way', () => {
      expect(dockerfile.stages.length).to.be.greaterThan(0);
      const stageNames = new Set(dockerfile.stages.map((s) => s.name));
      for (const st of dockerfile.stages) {
        if (stageNames.has(st.from)) continue;
        expect(st.from, `FROM ${st.from} (stage ${st.name})`).to.match(PINNED);
      }
    });

    it('the image runs the Node version the repository pins and tests with', () => {
      const node = rootPackage.devDependencies['node'];
      expect(node, 'package.json devDependencies.node').to.match(/^\d+\.\d+\.\d+$/);
      const nodeStages = dockerfile.stages.filter((s) => s.from.startsWith('node:'));
      expect(nodeStages.map((s) => s.name)).to.include.members(['build', 'app']);
      for (const st of nodeStages) expect(st.from, `stage ${st.name}`).to.match(new RegExp(`^node:${node!.replace(/\./g, '\\.')}-`));
    });

    it('services built from the Dockerfile name a stage that exists, and tag what they build with its version', () => {
      const stages = new Map(dockerfile.stages.map((s) => [s.name, s]));
      const built = Object.entries(config.services).filter(([, s]) => s.build);
      expect(built.map(([n]) => n).sort()).to.deep.equal(['ai-gateway', 'ai-gateway-otlp', 'alert-relay', 'otel-collector']);
      for (const [name, s] of built) {
        expect(s.build!.context, name).to.equal(REPO_ROOT);
        expect(s.build!.dockerfile ?? 'Dockerfile', name).to.equal('Dockerfile');
        expect(stages.has(s.build!.target), `${name}: target ${s.build!.target}`).to.equal(true);
      }
      // the app image carries the workspace version; the collector image the upstream collector's
      const appVersion = (JSON.parse(repoFile('examples/ai-gateway/package.json')) as { version: string }).version;
      for (const n of ['ai-gateway', 'ai-gateway-otlp', 'alert-relay']) expect(config.services[n]!.image, n).to.equal(`vigil/app:${appVersion}`);
      const upstream = stages.get('otel-collector')!.from;
      expect(upstream).to.match(/^otel\/opentelemetry-collector-contrib:/);
      expect(config.services['otel-collector']!.image).to.equal(`vigil/otel-collector:${upstream.split(':')[1]}`);
    });
  });

  describe('docker-compose.yml: healthchecks and start order', () => {
    /**
     * What each image has to probe with (checked against the images' own
     * Dockerfiles): prom/* are busybox-based (wget, no curl); grafana/grafana
     * installs curl (Alpine: also busybox wget); postgres and redis ship their
     * clients; the vigil app image is node:*-slim (node, no curl or wget); the
     * collector image is FROM scratch, so the Dockerfile adds /busybox.
     */
    const PROBES: Array<[RegExp, string[]]> = [
      [/^prom\/(prometheus|alertmanager):/, ['wget']],
      [/^grafana\/grafana:/, ['curl', 'wget']],
      [/^postgres:/, ['pg_isready']],
      [/^redis:/, ['redis-cli']],
      [/^vigil\/app:/, ['node']],
      [/^vigil\/otel-collector:/, ['/busybox']],
    ];

    it('every service has a healthcheck with interval, timeout and retries', () => {
      for (const [name, s] of Object.entries(config.services)) {
        const h = s.healthcheck;
        expect(h, `${name}: healthcheck`).to.be.an('object');
        expect(h!.disable ?? false, name).to.equal(false);
        expect(h!.test, `${name}: healthcheck.test`).to.be.an('array').with.length.greaterThan(1);
        expect((h!.test as string[])[0], name).to.be.oneOf(['CMD', 'CMD-SHELL']);
        expect(h!.interval, name).to.match(/^\d+s$/);
        expect(h!.timeout, name).to.match(/^\d+s$/);
        expect(h!.retries, name).to.be.a('number').greaterThan(0);
      }
    });

    it('each healthcheck runs only programs its image has', () => {
      for (const [name, s] of Object.entries(config.services)) {
        const allowed = PROBES.find(([re]) => re.test(s.image!))?.[1];
        expect(allowed, `${name}: no known probe programs for ${s.image}`).to.be.an('array');
        const [kind, ...rest] = s.healthcheck!.test as string[];
        const programs = kind === 'CMD'
          ? [rest[0]!]
          : rest.join(' ').split(/\|\||&&|;/).map((part) => part.trim().replace(/^\[\s*"?\$+\(/, '').split(/\s+/)[0]!);
        for (const p of programs) expect(allowed, `${name}: healthcheck runs ${p}`).to.include(p);
      }
      // the collector's probe program exists because the Dockerfile copies it there
      const collector = dockerfile.stages.find((st) => st.name === 'otel-collector')!;
      expect(collector.lines).to.include('COPY --from=busybox /bin/busybox /busybox');
      expect(dockerfile.stages.find((st) => st.name === 'busybox')?.from).to.match(/^busybox:[\d.]+-musl$/);
    });

    it('HTTP healthchecks probe a port the service listens on', () => {
      let probes = 0;
      for (const [name, s] of Object.entries(config.services)) {
        for (const m of (s.healthcheck!.test as string[]).join(' ').matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)) {
          probes++;
          expect([...containerPorts(s)], `${name} probes :${m[1]}`).to.include(Number(m[1]));
        }
      }
      expect(probes).to.be.greaterThan(5);
    });

    it('depends_on waits for healthy services that exist and have a healthcheck', () => {
      const edges: string[] = [];
      for (const [name, s] of Object.entries(config.services)) {
        for (const [dep, cond] of Object.entries(s.depends_on ?? {})) {
          edges.push(`${name}->${dep}`);
          expect(config.services[dep], `${name} depends on unknown ${dep}`).to.be.an('object');
          expect(cond.condition, `${name} -> ${dep}`).to.equal('service_healthy');
          expect(config.services[dep]!.healthcheck, dep).to.be.an('object');
          // a service never waits for one that only runs in a profile it is not in itself
          for (const p of config.services[dep]!.profiles ?? []) expect(s.profiles ?? [], `${name} waits for ${dep}, which only runs in profile ${p}`).to.include(p);
        }
      }
      expect(edges).to.include.members([
        'ai-gateway->postgres', 'ai-gateway->redis',
        'ai-gateway-otlp->postgres', 'ai-gateway-otlp->redis', 'ai-gateway-otlp->otel-collector',
        'otel-collector->prometheus', 'grafana->prometheus',
      ]);
    });
  });

  describe('docker-compose.yml: secrets', () => {
    const SECRET_KEY = /PASSWORD|SECRET|TOKEN|API_?KEY|CREDENTIAL/i;

    it('no secret-like environment value is written in the file: each is a required ${VAR}, without a default', () => {
      let seen = 0;
      for (const [name, s] of Object.entries(rawConfig.services)) {
        for (const [k, v] of Object.entries(s.environment ?? {})) {
          if (!SECRET_KEY.test(k)) continue;
          seen++;
          expect(String(v), `${name}.${k}`).to.match(/^\$\{[A-Z0-9_]+:\?[^}]*\}$/);
        }
      }
      expect(seen).to.equal(4);
      // and nothing that looks like a credential anywhere in the text
      expect(raw).to.not.match(/access_token=|[?&]key=|\bSEC[0-9a-f]{16,}|hook\/[0-9a-f-]{16,}/i);
      expect(raw).to.not.match(/^\s*[A-Z0-9_]*(PASSWORD|SECRET|TOKEN):[ \t]*[^\s$]/m);
    });

    it('secret files come from git-ignored folders whose committed README names each file', () => {
      const secrets = Object.entries(config.secrets ?? {});
      expect(secrets.length).to.be.greaterThan(0);
      for (const [name, { file }] of secrets) {
        expect(file.startsWith(REPO_ROOT + sep), `${name}: ${file}`).to.equal(true);
        const rel = relative(REPO_ROOT, file);
        const ignored = spawnSync('git', ['check-ignore', '-q', '--no-index', rel], { cwd: REPO_ROOT });
        expect(ignored.status, `${rel} must be git-ignored`).to.equal(0);
        const readme = join(dirname(file), 'README.md');
        expect(existsSync(readme), `${relative(REPO_ROOT, readme)}`).to.equal(true);
        const tracked = spawnSync('git', ['ls-files', '--error-unmatch', relative(REPO_ROOT, readme)], { cwd: REPO_ROOT });
        expect(tracked.status, `${relative(REPO_ROOT, readme)} must be committed`).to.equal(0);
        expect(readFileSync(readme, 'utf8'), `${relative(REPO_ROOT, readme)} describes ${name}`).to.contain(`\`${posix.basename(rel)}\``);
      }
    });

    it('every declared secret is used, and every service secret is declared', () => {
      const declared = Object.keys(config.secrets ?? {}).sort();
      const used = new Set<string>();
      for (const [name, s] of Object.entries(config.services)) {
        for (const ref of s.secrets ?? []) {
          expect(declared, `${name} uses ${ref.source}`).to.include(ref.source);
          used.add(ref.source);
        }
      }
      expect([...used].sort()).to.deep.equal(declared);
    });

    it('the relay reads every credential from a compose secret, and the Alertmanager token is the same file', () => {
      const relay = repoYaml<Record<string, unknown>>('alert-relay/relay.yml');
      const mounted = new Set((config.services['alert-relay']!.secrets ?? []).map((s) => s.source));
      const fileRefs: string[] = [];
      const walk = (node: unknown, path: string): void => {
        if (!node || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
          const at = path ? `${path}.${k}` : k;
          if (['url', 'secret', 'bearer_token', 'password'].includes(k)) expect.fail(`${at}: a literal credential; use ${k}_file`);
          if (k.endsWith('_env')) expect.fail(`${at}: compose passes credentials as files; use ${k.replace(/_env$/, '_file')}`);
          if (k.endsWith('_file')) {
            const m = /^\/run\/secrets\/([\w-]+)$/.exec(String(v));
            expect(m, `${at}: ${String(v)}`).to.not.equal(null);
            expect([...mounted], `${at}: /run/secrets/${m![1]} is not mounted into alert-relay`).to.include(m![1]);
            fileRefs.push(m![1]!);
          }
          walk(v, at);
        }
      };
      walk(relay, '');
      expect(fileRefs.sort()).to.deep.equal([...mounted].sort());
      // Alertmanager sends the token from /etc/alertmanager/secrets/relay_token: the same host file
      const am = config.services['alertmanager']!;
      expect(hostPathOf(am, '/etc/alertmanager/secrets/relay_token')).to.equal(config.secrets!['relay_token']!.file);
    });

    it('.dockerignore keeps secrets, dependencies and build output out of the build context', () => {
      const lines = repoFile('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      expect(lines).to.include.members(['**/secrets', '**/node_modules', '**/build', '**/.env']);
      // everything is excluded first, and only what the Dockerfile copies comes back
      expect(lines[0]).to.equal('*');
      const copied = new Set<string>();
      for (const st of dockerfile.stages) {
        for (const l of st.lines) {
          const m = /^COPY\s+(?!--from)(.+)\s+\S+$/.exec(l);
          if (m) m[1]!.split(/\s+/).forEach((src) => copied.add(src));
        }
      }
      for (const src of copied) expect(lines, `COPY ${src}`).to.satisfy((ls: string[]) => ls.includes(`!${src}`) || ls.includes(`!${src}/`));
    });
  });

  describe('docker-compose.yml: mounts and the files the containers read', () => {
    it('every bind mount is a path of this repository that exists (and never the Docker socket)', () => {
      let mounts = 0;
      for (const [name, s] of Object.entries(config.services)) {
        for (const m of bindMounts(s)) {
          mounts++;
          expect(m.source.startsWith(REPO_ROOT + sep), `${name}: ${m.source}`).to.equal(true);
          expect(existsSync(m.source), `${name}: ${relative(REPO_ROOT, m.source)} does not exist`).to.equal(true);
          expect(m.mode, `${name}: ${m.target} is configuration, mount it read-only`).to.equal('ro');
        }
      }
      expect(mounts).to.be.greaterThan(5);
    });

    it('every file a command or entrypoint names under /etc comes from a mounted repository file', () => {
      let paths = 0;
      for (const [name, s] of Object.entries(config.services)) {
        for (const arg of [...(s.entrypoint ?? []), ...(s.command ?? [])]) {
          const m = /(?:^|=)(\/etc\/\S+)$/.exec(arg);
          if (!m) continue;
          paths++;
          const host = hostPathOf(s, m[1]!);
          expect(host, `${name}: ${m[1]} is not inside a bind mount`).to.be.a('string');
          expect(existsSync(host!) && statSync(host!).isFile(), `${name}: ${relative(REPO_ROOT, host!)}`).to.equal(true);
        }
      }
      // prometheus.yml, entrypoint.sh, the collector's config.yaml, relay.yml
      expect(paths).to.equal(4);
    });

    it('Prometheus: the repository folder, with the seed retention, remote-write receiver and lifecycle API', () => {
      const p = config.services['prometheus']!;
      expect(p.command).to.include.members([
        '--config.file=/etc/prometheus/prometheus.yml',
        '--storage.tsdb.retention.time=15d',
        '--storage.tsdb.retention.size=10GB',
        '--web.enable-remote-write-receiver',
        '--web.enable-lifecycle',
      ]);
      expect(hostPathOf(p, '/etc/prometheus/prometheus.yml')).to.equal(join(REPO_ROOT, 'prometheus', 'prometheus.yml'));
      // the rule files prometheus.yml globs relative to itself are inside the mount
      expect(hostPathOf(p, '/etc/prometheus/alerts')).to.equal(join(REPO_ROOT, 'prometheus', 'alerts'));
      expect(hostPathOf(p, '/etc/prometheus/rules')).to.equal(join(REPO_ROOT, 'prometheus', 'rules'));
      const storage = p.command!.find((a) => a.startsWith('--storage.tsdb.path='))!.split('=')[1]!;
      expect(p.volumes!.some((v) => /^[\w-]+:/.test(v) && v.split(':')[1] === storage), 'TSDB on a named volume').to.equal(true);
    });

    it('Alertmanager: the repository folder with its entrypoint, storage on a named volume', () => {
      const a = config.services['alertmanager']!;
      expect(a.entrypoint).to.deep.equal(['/bin/sh', '/etc/alertmanager/entrypoint.sh']);
      expect(a.command![0]).to.equal('--storage.path=/alertmanager');
      expect(hostPathOf(a, '/etc/alertmanager')).to.equal(join(REPO_ROOT, 'alertmanager'));
      expect(a.volumes!.some((v) => /^[\w-]+:\/alertmanager(:|$)/.test(v))).to.equal(true);
      // every secret file alertmanager.yml reads lives in the git-ignored secrets folder of the mount
      const am = repoFile('alertmanager/alertmanager.yml');
      const files = [...am.matchAll(/(?:_file|credentials_file):\s*(\S+)/g)].map((m) => m[1]!);
      expect(files.length).to.be.greaterThan(1);
      for (const f of files) {
        expect(f.startsWith('/etc/alertmanager/secrets/'), f).to.equal(true);
        const host = hostPathOf(a, f)!;
        expect(spawnSync('git', ['check-ignore', '-q', '--no-index', relative(REPO_ROOT, host)], { cwd: REPO_ROOT }).status, host).to.equal(0);
      }
    });

    it('Grafana: port 3001, admin password from the environment, the provisioning and generated dashboards mounted read-only', () => {
      const g = config.services['grafana']!;
      expect(g.ports!.map((p) => p.replace(/\/tcp$/, '').split(':').slice(-2).join(':'))).to.deep.equal(['3001:3000']);
      expect(rawConfig.services['grafana']!.environment!['GF_SECURITY_ADMIN_PASSWORD']).to.match(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
      expect(envOf(g)['GF_SECURITY_ADMIN_PASSWORD']).to.equal(REQUIRED_ENV.GRAFANA_ADMIN_PASSWORD);
      expect(g.volumes).to.include.members([
        `${join(REPO_ROOT, 'grafana', 'provisioning')}:/etc/grafana/provisioning:ro`,
        `${join(REPO_ROOT, 'grafana', 'dashboards')}:/etc/grafana/dashboards:ro`,
      ]);
      // the dashboard provider reads the folder compose mounts
      const providers = repoYaml<{ providers: Array<{ options: { path: string } }> }>('grafana/provisioning/dashboards/dashboards.yml').providers;
      for (const p of providers) expect(hostPathOf(g, p.options.path), p.options.path).to.equal(join(REPO_ROOT, 'grafana', 'dashboards'));
      const home = envOf(g)['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'];
      if (home) expect(existsSync(hostPathOf(g, home) ?? ''), home).to.equal(true);
    });
  });

  describe('docker-compose.yml: the addresses the configuration files name resolve to compose services', () => {
    function assertServes(addr: string, where: string): string {
      const { host, port } = hostPort(addr);
      const s = config.services[host];
      expect(s, `${where}: ${host} is not a compose service`).to.be.an('object');
      expect(s!.profiles ?? [], `${where}: ${host} must run without a profile`).to.deep.equal([]);
      expect([...containerPorts(s!)], `${where}: ${host} does not listen on ${port}`).to.include(port);
      return host;
    }

    it('every Prometheus scrape target and its Alertmanager (prometheus/prometheus.yml)', () => {
      const prom = repoYaml<{
        alerting: { alertmanagers: Array<{ static_configs: Array<{ targets: string[] }> }> };
        scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }>;
      }>('prometheus/prometheus.yml');
      const resolved: string[] = [];
      for (const job of prom.scrape_configs) {
        for (const sc of job.static_configs ?? []) {
          for (const t of sc.targets) {
            // localhost is the Prometheus container itself
            const addr = t.startsWith('localhost:') ? t.replace('localhost', 'prometheus') : t;
            resolved.push(`${job.job_name}=${assertServes(addr, `scrape job ${job.job_name}`)}`);
          }
        }
      }
      for (const am of prom.alerting.alertmanagers) for (const sc of am.static_configs) for (const t of sc.targets) resolved.push(`alerting=${assertServes(t, 'alerting')}`);
      expect(resolved).to.include.members(['ai-gateway=ai-gateway', 'alert-relay=alert-relay', 'alerting=alertmanager']);
    });

    it('the app serves /metrics where Prometheus scrapes it: OTEL_EXPORTER_PROMETHEUS_HOST 0.0.0.0, port 9464', () => {
      const env = envOf(config.services['ai-gateway']!);
      expect(env['OTEL_METRICS_EXPORTER']).to.equal('prometheus');
      expect(env['OTEL_EXPORTER_PROMETHEUS_HOST']).to.equal('0.0.0.0');
      expect(env['OTEL_EXPORTER_PROMETHEUS_PORT']).to.equal('9464');
    });

    it('the relay listens where Prometheus scrapes it and Alertmanager posts to it, with every route Alertmanager uses', () => {
      const relay = repoYaml<{ listen?: string; routes: Record<string, unknown> }>('alert-relay/relay.yml');
      expect(relay.listen).to.equal('0.0.0.0:8080');
      const am = repoFile('alertmanager/alertmanager.yml');
      const routes = new Set<string>();
      for (const m of am.matchAll(/url:\s*'?(http:\/\/alert-relay:\d+\/alerts\/([\w-]+))/g)) {
        assertServes(m[1]!, 'alertmanager.yml');
        expect(hostPort(m[1]!).port).to.equal(8080);
        routes.add(m[2]!);
      }
      expect([...routes].sort()).to.deep.equal(['dingtalk', 'feishu', 'security']);
      expect(Object.keys(relay.routes).sort()).to.include.members([...routes]);
    });

    it('Grafana\'s datasource, the collector\'s remote write and the OTLP app\'s endpoint', () => {
      const ds = repoYaml<{ datasources: Array<{ url: string }> }>('grafana/provisioning/datasources/prometheus.yml').datasources;
      for (const d of ds) assertServes(d.url, 'grafana datasource');
      const collector = repoYaml<{ exporters: { prometheusremotewrite: { endpoint: string } }; receivers: { otlp: { protocols: { http: { endpoint: string } } } } }>('otel-collector/config.yaml');
      expect(assertServes(collector.exporters.prometheusremotewrite.endpoint, 'collector remote write')).to.equal('prometheus');
      const otlp = envOf(config.services['ai-gateway-otlp']!)['OTEL_EXPORTER_OTLP_ENDPOINT']!;
      expect(assertServes(otlp, 'ai-gateway-otlp')).to.equal('otel-collector');
      // the collector's HTTP receiver listens on that port on every interface
      expect(collector.receivers.otlp.protocols.http.endpoint).to.equal(`0.0.0.0:${hostPort(otlp).port}`);
    });
  });

  describe('docker-compose.yml: the two export paths', () => {
    it('pull: ai-gateway exports the Prometheus endpoint and runs without a profile', () => {
      const s = config.services['ai-gateway']!;
      expect(s.profiles ?? []).to.deep.equal([]);
      expect(envOf(s)['OTEL_METRICS_EXPORTER']).to.equal('prometheus');
    });

    it('push: ai-gateway-otlp (profile otlp) is the same program sending OTLP/HTTP to the collector under its own service name', () => {
      const pull = config.services['ai-gateway']!;
      const push = config.services['ai-gateway-otlp']!;
      expect(push.profiles).to.deep.equal(['otlp']);
      expect(push.image).to.equal(pull.image);
      expect(push.command).to.deep.equal(pull.command);
      const env = envOf(push);
      expect(env['OTEL_METRICS_EXPORTER']).to.equal('otlp');
      expect(env['OTEL_EXPORTER_OTLP_PROTOCOL']).to.equal('http/protobuf');
      expect(env['OTEL_EXPORTER_OTLP_ENDPOINT']).to.equal('http://otel-collector:4318');
      expect(env['OTEL_SERVICE_NAME'], 'a job label of its own in Prometheus').to.not.equal(envOf(pull)['OTEL_SERVICE_NAME']);
      // the same database and cache
      for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'REDIS_URL', 'PORT']) expect(env[k], k).to.equal(envOf(pull)[k]);
    });

    it('the collector runs the repository\'s config and remote-writes into the compose Prometheus', () => {
      const c = config.services['otel-collector']!;
      expect(c.command).to.deep.equal(['--config=/etc/otelcol-contrib/config.yaml']);
      expect(hostPathOf(c, '/etc/otelcol-contrib/config.yaml')).to.equal(join(REPO_ROOT, 'otel-collector', 'config.yaml'));
      const collector = repoYaml<{ extensions: { health_check: { endpoint: string } } }>('otel-collector/config.yaml');
      // the healthcheck asks the health_check extension
      expect((c.healthcheck!.test as string[]).join(' ')).to.contain(`http://127.0.0.1:${hostPort(collector.extensions.health_check.endpoint).port}/`);
    });
  });

  describe('Dockerfile: builds what the compose commands run', () => {
    const build = dockerfile.stages.find((s) => s.name === 'build');
    const tscLine = build?.lines.find((l) => /typescript\/bin\/tsc -b|\btsc -b/.test(l)) ?? '';
    const tscRoots = tscLine.replace(/^RUN\s+/, '').split(/\s+/).slice(tscLine.includes('typescript/bin/tsc') ? 3 : 2).filter((a) => !a.startsWith('-'));
    const built = projectsBuilt(tscRoots);

    /** `node [--require M]... script args` of every service that runs the app image. */
    function nodeCommands(): Array<{ service: string; requires: string[]; script: string }> {
      const out: Array<{ service: string; requires: string[]; script: string }> = [];
      for (const [service, s] of Object.entries(config.services)) {
        if (s.build?.target !== 'app') continue;
        const cmd = s.command ?? [];
        expect(cmd[0], service).to.equal('node');
        const requires: string[] = [];
        let i = 1;
        while (cmd[i] === '--require' || cmd[i] === '-r') {
          requires.push(cmd[i + 1]!);
          i += 2;
        }
        out.push({ service, requires, script: cmd[i]! });
      }
      return out;
    }

    it('the build stage installs with npm ci, compiles with tsc -b and slims to production dependencies', () => {
      expect(build, 'stage "build"').to.be.an('object');
      expect(build!.lines.some((l) => /^RUN npm ci\b/.test(l))).to.equal(true);
      expect(tscRoots.length, tscLine).to.be.greaterThan(0);
      expect(build!.lines.some((l) => /npm prune --omit=dev/.test(l))).to.equal(true);
      const app = dockerfile.stages.at(-1)!;
      expect(app.name, 'the last (default) stage is the app').to.equal('app');
      expect(app.lines).to.include('WORKDIR /app');
      expect(app.lines).to.include('COPY --from=build /app ./');
      expect(app.lines.filter((l) => /^USER\s/.test(l)), 'runs as the unprivileged node user').to.deep.equal(['USER node']);
    });

    it('the manifests stage sees every workspace, so npm ci installs and links them all', () => {
      const manifests = dockerfile.stages.find((s) => s.name === 'manifests')!;
      const copied = manifests.lines.filter((l) => l.startsWith('COPY ')).map((l) => l.split(/\s+/)[1]!);
      for (const ws of rootPackage.workspaces) expect(copied.some((c) => ws === c || ws.startsWith(`${c}/`)), ws).to.equal(true);
    });

    it('every script a compose service runs is output of a project the Dockerfile builds, and exists after tsc -b', () => {
      const cmds = nodeCommands();
      expect(cmds.map((c) => c.script).sort()).to.deep.equal([
        'examples/ai-gateway/build/src/main.js', 'examples/ai-gateway/build/src/main.js', 'packages/alert-relay/build/src/cli.js',
      ]);
      for (const { service, script } of cmds) {
        const file = join(REPO_ROOT, script);
        const project = owningProject(file);
        expect(project, `${service}: ${script} is in no TypeScript project`).to.be.a('string');
        expect(built.has(project!), `${service}: ${relative(REPO_ROOT, project!)} is not built by "${tscLine}"`).to.equal(true);
        expect(rootPackage.workspaces, `${service}: dependencies of ${relative(REPO_ROOT, project!)} are installed only for workspaces`).to.include(relative(REPO_ROOT, project!));
        expect(existsSync(file), `${service}: ${script} does not exist after tsc -b (is its source written?)`).to.equal(true);
      }
    });

    it('every --require module resolves from the image\'s working directory to output of a built project', () => {
      const cmds = nodeCommands();
      const modules = [...new Set(cmds.flatMap((c) => c.requires))];
      expect(modules).to.deep.equal(['@vigil/node/register']);
      for (const m of modules) {
        const file = require.resolve(m, { paths: [REPO_ROOT] });
        const project = owningProject(file);
        expect(project, `${m} -> ${file}`).to.be.a('string');
        expect(built.has(project!), `${m}: ${relative(REPO_ROOT, project!)} is not built by "${tscLine}"`).to.equal(true);
      }
    });

    it('the image\'s default command is the demo gateway\'s', () => {
      const cmd = dockerfile.stages.at(-1)!.lines.find((l) => l.startsWith('CMD '))!;
      expect(JSON.parse(cmd.slice(4))).to.deep.equal(config.services['ai-gateway']!.command);
    });
  });

  describe('alert-relay/relay.yml, run by the relay command compose runs', () => {
    const CLI = join(REPO_ROOT, 'packages/alert-relay/build/src/cli.js');
    let dir: string;
    let child: ChildProcess | undefined;
    let token: string;

    /** relay.yml with /run/secrets/ pointed at a folder of stand-in secret files. */
    function stageConfig(): string {
      dir = mkdtempSync(join(tmpdir(), 'vigil-relay-'));
      token = `tok-${process.pid}-${Date.now()}`;
      const values: Record<string, string> = {
        relay_token: token,
        dingtalk_url: 'http://127.0.0.1:9/robot/send?access_token=stand-in',
        security_dingtalk_url: 'http://127.0.0.1:9/robot/send?access_token=stand-in-2',
        feishu_url: 'http://127.0.0.1:9/open-apis/bot/v2/hook/stand-in',
        dingtalk_secret: 'SECstandin', security_dingtalk_secret: 'SECstandin2', feishu_secret: 'standin',
      };
      for (const s of config.services['alert-relay']!.secrets!) {
        expect(values[s.source], `a stand-in for ${s.source}`).to.be.a('string');
        writeFileSync(join(dir, s.source), `${values[s.source]}\n`);
      }
      const file = join(dir, 'relay.yml');
      writeFileSync(file, repoFile('alert-relay/relay.yml').replaceAll('/run/secrets/', `${dir}/`));
      return file;
    }

    afterEach(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      child = undefined;
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('passes the relay\'s --check', () => {
      const file = stageConfig();
      const r = spawnSync(process.execPath, [CLI, '--config', file, '--check'], { encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.match(/OK \(3 route\(s\), 3 target\(s\)\)/);
    });

    it('serves /health, and takes Alertmanager\'s three routes only with the token from the secret file', async () => {
      const file = stageConfig();
      child = spawn(process.execPath, [CLI, '--config', file, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const address = await new Promise<string>((resolveAddr, reject) => {
        const timer = setTimeout(() => reject(new Error(`relay did not start:\n${out}`)), 20_000);
        child!.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          for (const line of out.split('\n')) {
            if (!line.includes('"listening"')) continue;
            clearTimeout(timer);
            resolveAddr((JSON.parse(line) as { address: string }).address);
          }
        });
        child!.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
        child!.once('exit', (code) => { clearTimeout(timer); reject(new Error(`relay exited with ${code}:\n${out}`)); });
      });
      const base = `http://${address}`;
      expect((await fetch(`${base}/health`)).status).to.equal(200);
      for (const route of ['dingtalk', 'feishu', 'security']) {
        const post = (auth?: string): Promise<Response> => fetch(`${base}/alerts/${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body: '{}',
        });
        expect((await post()).status, `${route} without a token`).to.equal(401);
        expect((await post('Bearer wrong')).status, `${route} with a wrong token`).to.equal(401);
        // past authentication, an empty object is not an Alertmanager message: 400, not 401 or 404
        expect((await post(`Bearer ${token}`)).status, `${route} with the token`).to.equal(400);
      }
    });
  });
});
