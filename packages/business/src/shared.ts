import type { Meter } from '@opentelemetry/api';
import type { BoundedValues } from './labels';

/** What the parts of one BusinessMetrics instance share. */
export interface Shared {
  readonly meter: Meter;
  /** Epoch milliseconds. */
  readonly clock: () => number;
  readonly defaultUserRole: string;
  readonly services: BoundedValues;
  readonly modes: BoundedValues;
  readonly roles: BoundedValues;
  /** application_errors_total{error_type, component}. */
  recordError(error: unknown, component: string): void;
}
