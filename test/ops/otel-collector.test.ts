/**
 * otel-collector/config.yaml. The collector cannot run here (no binary, no
 * Docker), so this test reads the YAML and asserts the settings that keep
 * vigil's documented names and labels unchanged on the OTLP path, and that
 * the pipelines are wired; the end-to-end test checks what an exporter with
 * these settings emits.
 */
import { expect } from 'chai';
import { readYaml } from './tools';

interface CollectorConfig {
  extensions?: Record<string, unknown>;
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } };
  processors: { memory_limiter: { check_interval: string; limit_mib?: number; limit_percentage?: number }; batch: Record<string, unknown> };
  exporters: {
    prometheus: { endpoint: string; namespace?: string; add_metric_suffixes: boolean; without_scope_info?: boolean; translation_strategy?: string; resource_to_telemetry_conversion?: { enabled: boolean }; const_labels?: unknown };
    prometheusremotewrite: { endpoint: string; namespace?: string; add_metric_suffixes: boolean; resource_to_telemetry_conversion?: { enabled: boolean }; external_labels?: unknown };
    debug: { verbosity?: string };
  };
  service: { extensions?: string[]; pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
}

const config = readYaml<CollectorConfig>('otel-collector/config.yaml');

describe('otel-collector/config.yaml', () => {
  it('receives OTLP over gRPC (4317) and HTTP (4318) on all interfaces', () => {
    expect(config.receivers.otlp.protocols.grpc.endpoint).to.equal('0.0.0.0:4317');
    expect(config.receivers.otlp.protocols.http.endpoint).to.equal('0.0.0.0:4318');
  });

  it('Prometheus exporter on 0.0.0.0:8889 keeps the documented names: no suffixes, no namespace, no scope labels, no resource labels', () => {
    const p = config.exporters.prometheus;
    expect(p.endpoint).to.equal('0.0.0.0:8889');
    expect(p.add_metric_suffixes, 'http_requests_total must not become http_requests_total_total').to.equal(false);
    expect(p.namespace, 'no prefix').to.equal(undefined);
    expect(p.without_scope_info, 'no otel_scope_* labels').to.equal(true);
    expect(p.resource_to_telemetry_conversion?.enabled ?? false, 'resource attributes stay in target_info').to.equal(false);
    expect(p.translation_strategy, 'a translation_strategy would override add_metric_suffixes').to.equal(undefined);
    expect(p.const_labels, 'no extra labels').to.equal(undefined);
  });

  it('remote write goes to prometheus:9090/api/v1/write with the same names', () => {
    const w = config.exporters.prometheusremotewrite;
    expect(w.endpoint).to.equal('http://prometheus:9090/api/v1/write');
    expect(w.add_metric_suffixes).to.equal(false);
    expect(w.namespace).to.equal(undefined);
    expect(w.resource_to_telemetry_conversion?.enabled ?? false).to.equal(false);
    expect(w.external_labels).to.equal(undefined);
  });

  it('runs metrics through memory_limiter (first) and batch to both Prometheus exporters, traces to debug', () => {
    const { metrics, traces } = config.service.pipelines;
    expect(metrics).to.deep.equal({ receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['prometheus', 'prometheusremotewrite'] });
    expect(traces).to.deep.equal({ receivers: ['otlp'], processors: ['memory_limiter', 'batch'], exporters: ['debug'] });
    expect(config.processors.memory_limiter.check_interval).to.equal('1s');
    expect(config.processors.memory_limiter.limit_mib ?? config.processors.memory_limiter.limit_percentage).to.be.a('number');
    expect(config.exporters.debug).to.deep.equal({ verbosity: 'basic' });
  });

  it('every component a pipeline names is defined, and every defined one is used', () => {
    const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
    for (const p of Object.values(config.service.pipelines)) {
      p.receivers.forEach((r) => used.receivers.add(r));
      p.processors.forEach((r) => used.processors.add(r));
      p.exporters.forEach((r) => used.exporters.add(r));
    }
    expect([...used.receivers].sort()).to.deep.equal(Object.keys(config.receivers).sort());
    expect([...used.processors].sort()).to.deep.equal(Object.keys(config.processors).sort());
    expect([...used.exporters].sort()).to.deep.equal(Object.keys(config.exporters).sort());
    expect(config.service.extensions?.sort()).to.deep.equal(Object.keys(config.extensions ?? {}).sort());
  });
});
