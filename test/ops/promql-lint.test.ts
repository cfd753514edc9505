/**
 * Every metric and label the alerts and recording rules name exists in
 * @vigil/catalog (DESIGN.md, principle 1).
 */
import { expect } from 'chai';
import { lintPromql, promqlRefs, templateLabelRefs } from './promql-lint';
import { alertRules, listFiles, readYaml, type RuleFile } from './tools';

describe('PromQL of alerts and rules against the catalog', () => {
  describe('the reader', () => {
    it('finds selectors, matcher labels and grouping labels', () => {
      const refs = promqlRefs('sum by (site_id, le) (rate(new_api_model_request_duration_seconds_bucket{model_name=~"gpt.*"}[5m] offset 1d)) / on (site_id) group_left () up and vector(1)');
      expect(refs.selectors).to.deep.equal([
        { metric: 'new_api_model_request_duration_seconds_bucket', labels: ['model_name'] },
        { metric: 'up', labels: [] },
      ]);
      expect(refs.groupingLabels).to.deep.equal(['site_id', 'le', 'site_id']);
    });

    it('reports a metric outside the catalog, a label its metric lacks and a template label nobody has', () => {
      expect(lintPromql('rate(http_request_total[5m])')).to.deep.equal(['metric http_request_total is not in @vigil/catalog']);
      expect(lintPromql('rate(http_requests_total{status="500"}[5m])')[0]).to.match(/^http_requests_total has no label status \(it has: method, endpoint, status_code, user_role, job, instance\)$/);
      expect(lintPromql('sum by (channel) (new_api_active_requests)')).to.deep.equal(['grouping label channel is on no metric of the expression']);
      expect(lintPromql('up == 0', ['channel_id'])).to.deep.equal(['template uses $labels.channel_id, which no metric of the expression has']);
      expect(lintPromql('cache_hit_rate < 0.7 and on () sum(increase(cache_operations_total{result=~"hit|miss"}[5m])) >= 20')).to.deep.equal([]);
    });
  });

  for (const a of alertRules()) {
    it(`alert ${a.alert} (${a.file})`, () => {
      const templates = Object.values(a.annotations).flatMap(templateLabelRefs);
      expect(lintPromql(a.expr, templates)).to.deep.equal([]);
    });
  }

  for (const file of listFiles('prometheus/rules', ['.yml'])) {
    for (const r of readYaml<RuleFile>(file).groups.flatMap((g) => g.rules)) {
      it(`recording rule ${r.record} (${file})`, () => {
        expect(lintPromql(r.expr)).to.deep.equal([]);
      });
    }
  }
});
