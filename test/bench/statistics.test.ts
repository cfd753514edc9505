// The statistics the benchmarks' verdicts rest on (bench/lib/common.js).
import { expect } from 'chai';
import { join } from 'node:path';

// Plain JavaScript outside the TypeScript projects; this file runs from test/build/bench/.
const common = require(join(__dirname, '..', '..', '..', 'bench', 'lib', 'common.js')) as {
  median(xs: number[]): number;
  medianInterval(xs: number[]): [number, number];
};
const { median, medianInterval } = common;

/** A seeded xorshift generator of numbers in [0, 1): the coverage test repeats exactly. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('bench statistics: the confidence interval of a median', () => {
  it('picks the order statistics of the binomial table (n = 10: 2nd and 9th; 30: 10th and 21st; 150: 63rd and 88th)', () => {
    const ranks = (n: number) => medianInterval(Array.from({ length: n }, (_, i) => n - i));
    expect(ranks(10)).to.deep.equal([2, 9]);
    expect(ranks(30)).to.deep.equal([10, 21]);
    expect(ranks(150)).to.deep.equal([63, 88]);
  });

  it('has no interval under 6 values, and finishes for 100 000 (where 0.5^n underflows)', () => {
    expect(medianInterval([1, 2, 3, 4, 5]).every(Number.isNaN)).to.equal(true);
    const n = 100_000;
    const [lo, hi] = medianInterval(Array.from({ length: n }, (_, i) => i));
    expect(lo).to.be.within(n / 2 - 400, n / 2 - 200);
    expect(hi).to.be.within(n / 2 + 200, n / 2 + 400);
  });

  it('holds the true median about 95% of the time, for skewed samples too', () => {
    const next = random(42);
    for (const [name, draw, trueMedian] of [
      ['uniform', () => next(), 0.5],
      ['exponential', () => -Math.log(1 - next()), Math.LN2],
    ] as const) {
      let held = 0;
      const trials = 2000;
      for (let t = 0; t < trials; t++) {
        const [lo, hi] = medianInterval(Array.from({ length: 150 }, draw));
        if (lo <= trueMedian && trueMedian <= hi) held++;
      }
      expect(held / trials, name).to.be.within(0.93, 0.98);
    }
  });

  it('contains the sample median', () => {
    const next = random(7);
    for (let t = 0; t < 100; t++) {
      const xs = Array.from({ length: 6 + t }, () => 0.9 + next() * 0.2);
      const [lo, hi] = medianInterval(xs);
      expect(median(xs)).to.be.within(lo, hi);
    }
  });
});
