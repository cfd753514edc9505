import { expect } from 'chai';
import { parsePayload } from '../src/payload';

const alert = (labels: Record<string, unknown>) => ({
  status: 'firing',
  labels,
  annotations: {},
  startsAt: '2024-01-01T00:00:00Z',
  endsAt: '0001-01-01T00:00:00Z',
  generatorURL: '',
  fingerprint: 'f',
});
const payload = (over: Record<string, unknown>) => ({
  version: '4', status: 'firing', receiver: 'r', groupKey: 'g', groupLabels: {}, commonLabels: {},
  commonAnnotations: {}, externalURL: 'http://alertmanager:9093', alerts: [alert({ alertname: 'A' })], ...over,
});

describe('alert-relay payload parser', () => {
  it('keeps a label named __proto__ as a label (JSON.parse makes it an ordinary key)', () => {
    const p = parsePayload(payload({ alerts: [alert(JSON.parse('{"__proto__":"x","alertname":"A"}'))] }));
    expect(Object.keys(p.alerts[0]!.labels)).to.deep.equal(['__proto__', 'alertname']);
    expect(p.alerts[0]!.labels['__proto__']).to.equal('x');
  });

  it('names a bad label in a bounded message, however long its key', () => {
    expect(() => parsePayload(payload({ commonLabels: { ['k'.repeat(100_000)]: 1 } })))
      .to.throw(/^commonLabels\.k{60}…: expected a string, got 1$/);
  });
});
