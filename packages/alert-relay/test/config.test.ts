import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { createRelay, RelayConfigError, type RelayConfigInput } from '../src/index';
import { ChatStandIn } from './standins';
import { payload, post, waitFor } from './helpers';

const CLI = resolve(__dirname, '../src/cli.js');

function configError(input: unknown, env: NodeJS.ProcessEnv = {}): RelayConfigError {
  try {
    createRelay(input as RelayConfigInput, { env, log: () => {} });
  } catch (err) {
    expect(err).to.be.instanceOf(RelayConfigError);
    return err as RelayConfigError;
  }
  throw new Error('expected a configuration error');
}

const ok = (): Record<string, any> => ({
  routes: { ops: { targets: ['ding'] } },
  targets: { ding: { type: 'dingtalk', url: 'https://oapi.dingtalk.com/robot/send?access_token=abc' } },
});

describe('alert-relay configuration', () => {
  it('names the field of every mistake', () => {
    const cases: [(c: Record<string, any>) => void, string, RegExp][] = [
      [(c) => delete c['targets'], 'targets', /required: a mapping/],
      [(c) => (c['targets'] = {}), 'targets', /at least one target/],
      [(c) => (c['routes'] = {}), 'routes', /at least one route/],
      [(c) => (c['routes'].ops.targets = ['dong']), 'routes.ops.targets[0]', /no target named "dong" \(known: ding\)/],
      [(c) => (c['routes'].ops.targets = []), 'routes.ops.targets', /at least one target name/],
      [(c) => (c['targets'].ding.secrt = 'x'), 'targets.ding.secrt', /unknown field/],
      [(c) => (c['listn'] = ':1'), 'listn', /unknown field/],
      [(c) => (c['targets'].ding.type = 'slack'), 'targets.ding.type', /one of dingtalk, wecom, feishu/],
      [(c) => delete c['targets'].ding.url, 'targets.ding.url', /set one of url, url_file, url_env/],
      [(c) => (c['targets'].ding.url_env = 'X'), 'targets.ding.url', /set only one of url, url_env/],
      [(c) => (c['targets'].ding.url = 'https://oapi.dingtalk.com/robot/send'), 'targets.ding.url', /access_token/],
      [(c) => (c['targets'].ding.rate_limits = [{ count: 20, per: '1 minute' }]), 'targets.ding.rate_limits[0].per', /duration with a unit/],
      [(c) => (c['targets'].ding.rate_limits = [{ count: 0, per: '1m' }]), 'targets.ding.rate_limits[0].count', /positive integer/],
      [(c) => (c['targets'].ding.max_bytes = 100), 'targets.ding.max_bytes', /at least 512/],
      [(c) => (c['targets'].ding.format = 'card'), 'targets.ding.format', /only Feishu/],
      [(c) => (c['delivery_timeout'] = 8), 'delivery_timeout', /duration with a unit/],
      [(c) => (c['time_zone'] = 'Mars/Olympus'), 'time_zone', /unknown time zone/],
      [(c) => (c['listen'] = 'localhost'), 'listen', /host:port/],
      [(c) => (c['auth'] = {}), 'auth', /set bearer_token/],
      [(c) => (c['auth'] = { basic: { username: 'am' } }), 'auth.basic.password', /required/],
      [(c) => (c['targets'] = { wx: { type: 'wecom', url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', secret: 's' } }), 'targets.wx.secret', /no signing secret/],
    ];
    for (const [mutate, field, problem] of cases) {
      const c = ok();
      mutate(c);
      const err = configError(c);
      expect(err.field, err.message).to.equal(field);
      expect(err.message).to.match(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `));
      expect(err.message).to.match(problem);
    }
  });

  it('reads secrets from the environment and ${VAR} references, and says which variable is missing', () => {
    const c = ok();
    c['targets'].ding = { type: 'dingtalk', url_env: 'DING_URL', secret: '${DING_SECRET}' };
    expect(() => createRelay(c as RelayConfigInput, { env: { DING_URL: 'https://x/robot/send?access_token=t', DING_SECRET: 's' }, log: () => {} })).not.to.throw();
    expect(configError(c, { DING_SECRET: 's' }).message).to.equal('targets.ding.url_env: environment variable DING_URL is not set');
    expect(configError(c, { DING_URL: 'https://x/robot/send?access_token=t' }).message).to.equal('targets.ding.secret: environment variable DING_SECRET is not set');
  });

  it('never echoes a robot URL (it holds the token) in an error', () => {
    const c = ok();
    c['targets'].ding.url = 'not a url but secret-token-123';
    const err = configError(c);
    expect(err.message).to.equal('targets.ding.url: is not a valid URL');
  });

  it('reports an unreadable secret file with its path', () => {
    const c = ok();
    delete c['targets'].ding.url;
    c['targets'].ding.url_file = '/nonexistent/ding-url';
    expect(configError(c).message).to.equal('targets.ding.url_file: cannot read /nonexistent/ding-url: ENOENT');
  });
});

describe('vigil-alert-relay command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--check validates a file and names the failing field', () => {
    writeFileSync(join(dir, 'url'), 'https://oapi.dingtalk.com/robot/send?access_token=abc\n');
    writeFileSync(join(dir, 'good.yml'), 'routes:\n  ops:\n    targets: [ding]\ntargets:\n  ding:\n    type: dingtalk\n    url_file: url\n');
    const good = spawnSync(process.execPath, [CLI, '--config', join(dir, 'good.yml'), '--check'], { encoding: 'utf8' });
    expect(good.status, good.stderr).to.equal(0);
    expect(good.stdout).to.match(/good\.yml: OK \(1 route\(s\), 1 target\(s\)\)/);

    writeFileSync(join(dir, 'bad.yml'), 'routes:\n  ops:\n    targets: [ding]\ntargets:\n  ding:\n    type: dingtalk\n    url_file: url\n    rate_limits: [{count: 20, per: 60}]\n');
    const bad = spawnSync(process.execPath, [CLI, '--config', join(dir, 'bad.yml'), '--check'], { encoding: 'utf8' });
    expect(bad.status).to.equal(1);
    expect(bad.stderr).to.match(/bad\.yml: targets\.ding\.rate_limits\[0\]\.per: must be a duration with a unit/);

    writeFileSync(join(dir, 'broken.yml'), 'routes: [\n');
    const broken = spawnSync(process.execPath, [CLI, '--config', join(dir, 'broken.yml')], { encoding: 'utf8' });
    expect(broken.status).to.equal(1);
    expect(broken.stderr).to.match(/YAML syntax error at line \d+, column \d+/);

    const missing = spawnSync(process.execPath, [CLI], { encoding: 'utf8', env: { ...process.env, VIGIL_ALERT_RELAY_CONFIG: '' } });
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/--config is required/);
  });

  it('runs as a service: listens, relays, logs JSON lines, and stops cleanly on SIGTERM', async () => {
    const ding = await new ChatStandIn('dingtalk', { secret: 'SECcli' }).start();
    writeFileSync(join(dir, 'relay.yml'), `auth:\n  bearer_token_file: token\nroutes:\n  ops:\n    targets: [ding]\ntargets:\n  ding:\n    type: dingtalk\n    url_env: DING_URL\n    secret_env: DING_SECRET\n`);
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    const child = spawn(process.execPath, [CLI], {
      env: { ...process.env, VIGIL_ALERT_RELAY_CONFIG: join(dir, 'relay.yml'), VIGIL_ALERT_RELAY_LISTEN: '127.0.0.1:0', DING_URL: ding.url, DING_SECRET: 'SECcli' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => out.includes('"msg":"listening"'), 10_000, `the relay to listen (stderr: ${err})`);
      const records = out.trim().split('\n').map((l) => JSON.parse(l));
      const listening = records.find((x) => x.msg === 'listening');
      expect(listening.address).to.match(/^127\.0\.0\.1:\d+$/);
      const base = `http://${listening.address}`;
      expect((await fetch(`${base}/health`)).status).to.equal(200);
      const res = await post(`${base}/alerts/ops`, payload([{}]), { authorization: 'Bearer s3cret-token' });
      expect(res.status).to.equal(200);
      expect(ding.accepted).to.have.length(1);
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      const all = out.trim().split('\n').map((l) => JSON.parse(l));
      expect(all.map((x) => x.msg)).to.include.members(['listening', 'notification delivered', 'shutting down', 'stopped']);
      expect(out).not.to.include('s3cret-token');
      expect(out).not.to.include(ding.token);
      expect(out).not.to.include('SECcli');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await ding.stop();
    }
  });
});
