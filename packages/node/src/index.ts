export { start, VERSION } from './start';
export { resolveConfig } from './config';
export type { ResolvedConfig } from './config';
export type {
  MetricsAuth,
  MetricsExporterName,
  MetricsServerRoute,
  OtlpProtocol,
  TracesExporterName,
  VigilHandle,
  VigilOptions,
} from './types';
