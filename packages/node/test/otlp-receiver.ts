// A stand-in OTLP/HTTP metrics backend for tests: it decodes each push with the
// OTLP protobuf definitions (the subset of opentelemetry-proto that metrics use)
// and answers as a collector would.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package opentelemetry.proto;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; }
message Metric {
  string name = 1; string description = 2; string unit = 3;
  oneof data { Gauge gauge = 5; Sum sum = 7; Histogram histogram = 9; }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message NumberDataPoint {
  repeated KeyValue attributes = 7; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9; fixed64 start_time_unix_nano = 2; fixed64 time_unix_nano = 3;
  fixed64 count = 4; double sum = 5; repeated fixed64 bucket_counts = 6; repeated double explicit_bounds = 7;
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`;

const Request = protobuf.parse(PROTO).root.lookupType('opentelemetry.proto.ExportMetricsServiceRequest');

export interface OtlpPoint {
  metric: string;
  type: 'gauge' | 'sum' | 'histogram';
  monotonic?: boolean;
  attributes: Record<string, string>;
  value?: number;
  count?: number;
  bucketCounts?: number[];
  bounds?: number[];
  /** The resource attributes of the push that carried it. */
  resource: Record<string, string>;
}

export interface OtlpReceiver {
  url: string;
  /** Every data point of every push, in arrival order. */
  points: OtlpPoint[];
  /** The resource attributes of the last push. */
  resource: Record<string, string>;
  pushes: number;
  /** Data points in each push, in arrival order. */
  pointsPerPush: number[];
  /** Content-Type of each accepted push. */
  contentTypes: string[];
  /** Answer with this status instead of 200 (e.g. 503). */
  failWith?: number;
  /** Accept each push and never answer it: a hanging collector. */
  hang?: boolean;
  /** Answer each push only after this many ms: a slow collector. */
  delayMs?: number;
  /** Every push that arrived, answered or not. */
  requests: number;
  /** Arrival times (Date.now()) of every push. */
  arrivals: number[];
  /** Pushes waiting for an answer whose connection is still open, now and at most. */
  open: number;
  maxOpen: number;
  close(): Promise<void>;
}

type Any = { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number };
type Kv = { key: string; value?: Any };
const anyToString = (v: Any | undefined) => String(v?.stringValue ?? v?.intValue ?? v?.doubleValue ?? v?.boolValue ?? '');
const attrs = (kvs: Kv[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyToString(kv.value)]));

type Decoded = {
  resourceMetrics?: Array<{ resource?: { attributes?: Kv[] }; scopeMetrics?: Array<{ metrics?: Array<Record<string, any>> }> }>;
};

function record(receiver: OtlpReceiver, msg: Decoded): void {
  receiver.pushes++;
  const before = receiver.points.length;
  for (const rm of msg.resourceMetrics ?? []) {
    const resource = (receiver.resource = attrs(rm.resource?.attributes));
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = m.gauge ? 'gauge' : m.sum ? 'sum' : 'histogram';
        for (const dp of m[type]?.dataPoints ?? []) {
          receiver.points.push({
            metric: m.name,
            type,
            monotonic: m.sum?.isMonotonic,
            attributes: attrs(dp.attributes),
            value: dp.asDouble ?? dp.asInt,
            count: dp.count,
            bucketCounts: dp.bucketCounts,
            bounds: dp.explicitBounds,
            resource,
          });
        }
      }
    }
  }
  receiver.pointsPerPush.push(receiver.points.length - before);
}

function newReceiver(): OtlpReceiver {
  return { url: '', points: [], resource: {}, pushes: 0, pointsPerPush: [], contentTypes: [], requests: 0, arrivals: [], open: 0, maxOpen: 0, close: async () => {} };
}

/** Listens on `port` (a free one by default: pass a port to bring a "dead" collector back). */
export function startOtlpReceiver(port = 0): Promise<OtlpReceiver> {
  const receiver = newReceiver();
  const server: Server = createServer((req, res) => {
    receiver.requests++;
    receiver.arrivals.push(Date.now());
    receiver.maxOpen = Math.max(receiver.maxOpen, ++receiver.open);
    res.once('close', () => receiver.open--); // answered, or the exporter gave up and closed the connection
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (receiver.hang) return;
      if (receiver.delayMs) setTimeout(answer, receiver.delayMs);
      else answer();
    });
    function answer() {
      if (res.destroyed) return;
      const type = req.headers['content-type'];
      if (req.url !== '/v1/metrics' || (type !== 'application/x-protobuf' && type !== 'application/json')) {
        res.writeHead(415).end();
        return;
      }
      if (receiver.failWith) {
        res.writeHead(receiver.failWith).end();
        return;
      }
      const body = Buffer.concat(chunks);
      // OTLP/JSON uses the protobuf JSON mapping: the same field names, 64-bit numbers as strings.
      const msg = (type === 'application/json'
        ? JSON.parse(body.toString('utf8'), (_k, v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v))
        : Request.toObject(Request.decode(body), { longs: Number, defaults: false })) as Decoded;
      record(receiver, msg);
      receiver.contentTypes.push(type);
      res.writeHead(200, { 'Content-Type': type }).end(type === 'application/json' ? '{}' : undefined);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
      receiver.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
      resolve(receiver);
    });
  });
}

/** The same stand-in over OTLP/gRPC: the collector's MetricsService/Export method. */
export async function startOtlpGrpcReceiver(): Promise<OtlpReceiver> {
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const receiver = newReceiver();
  const server = new grpc.Server();
  const identity = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Export: (call: { request: Buffer }, callback: (err: null, res: Buffer) => void) => {
        record(receiver, Request.toObject(Request.decode(call.request), { longs: Number, defaults: false }) as Decoded);
        receiver.contentTypes.push('application/grpc');
        callback(null, Buffer.alloc(0)); // an empty ExportMetricsServiceResponse
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = async () => void server.forceShutdown();
  return receiver;
}
