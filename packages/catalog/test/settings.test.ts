import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { booleanSetting, choiceSetting, listSetting, logOnce, numberSetting, stringSetting } from '../src';

// Captures what vigil writes to stderr during fn.
function stderrOf(fn: () => void): string {
  const write = process.stderr.write;
  let out = '';
  process.stderr.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = write;
  }
  return out;
}

describe('settings: code option, then environment variable, then default', () => {
  const NAME = 'VIGIL_TEST_SETTING';
  afterEach(() => delete process.env[NAME]);

  it('resolves in that order', () => {
    expect(numberSetting(NAME, undefined, 5)).to.equal(5);
    process.env[NAME] = '7';
    expect(numberSetting(NAME, undefined, 5)).to.equal(7);
    expect(numberSetting(NAME, 9, 5)).to.equal(9);
    process.env[NAME] = ' off ';
    expect(booleanSetting(NAME, undefined, true)).to.equal(false);
    expect(booleanSetting(NAME, true, false)).to.equal(true);
    process.env[NAME] = 'a, b,,c';
    expect(listSetting(NAME, undefined, [])).to.deep.equal(['a', 'b', 'c']);
    process.env[NAME] = 'GRPC';
    expect(choiceSetting(NAME, undefined, ['grpc', 'http'], 'http')).to.equal('grpc');
    process.env[NAME] = '';
    expect(stringSetting(NAME, undefined, 'dflt')).to.equal('dflt');
  });

  for (const [raw, why] of [
    ['abc', 'non-numeric'],
    ['-3', 'negative'],
    ['1.5', 'fractional'],
    ['1e400', 'infinite'],
    ['99999999', 'too large'],
  ] as const) {
    it(`a ${why} number falls back to the default and says so once`, () => {
      process.env[NAME] = raw;
      const err = stderrOf(() => {
        expect(numberSetting(NAME, undefined, 10, { min: 0, max: 1000, integer: true })).to.equal(10);
        expect(numberSetting(NAME, undefined, 10, { min: 0, max: 1000, integer: true })).to.equal(10);
      });
      expect(err).to.equal(`[vigil] warn: ${NAME}="${raw}" is not a whole number >= 0 <= 1000; using 10\n`);
    });
  }

  it('an unknown word and a huge value fall back, naming the setting', () => {
    process.env[NAME] = 'maybe';
    expect(stderrOf(() => expect(booleanSetting(NAME, undefined, true)).to.equal(true))).to.include(`${NAME}="maybe" is not true or false; using true`);
    process.env[NAME] = 'x'.repeat(10_000);
    expect(stderrOf(() => expect(stringSetting(NAME, undefined, 'd')).to.equal('d'))).to.include('is 10000 characters long');
  });

  it('logOnce writes a line the first time only', () => {
    const err = stderrOf(() => {
      expect(logOnce('k-test', 'warn', 'hello')).to.equal(true);
      expect(logOnce('k-test', 'warn', 'hello')).to.equal(false);
    });
    expect(err).to.equal('[vigil] warn: hello\n');
  });

  it('logOnce keyed by hostile values: at most 1000 lines and one saying the rest are dropped', () => {
    // Its own process: the set of said keys is process-wide.
    const script = "const { logOnce } = require('@vigil/catalog'); for (let i = 0; i < 5000; i++) logOnce('k' + i, 'warn', 'problem ' + i);";
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: __dirname });
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('[vigil]'));
    expect(lines).to.have.length(1001);
    expect(lines[999]).to.equal('[vigil] warn: problem 999');
    expect(lines[1000]).to.equal('[vigil] warn: more than 1000 distinct problems reported; further new ones are not logged');
  });
});
