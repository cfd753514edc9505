// Errors (seed 004 §3.1, 方案1).
import type { Counter } from '@opentelemetry/api';
import {
  applicationErrorsTotal,
  createCounter,
  fileUploadFailuresTotal,
  paymentFailuresTotal,
  type AttributesOf,
} from '@vigil/catalog';
import { BoundedValues, errorTypeOf, nameValue, safely, wordValue } from './labels';
import type { Shared } from './shared';

export class Errors {
  private readonly errors: Counter<AttributesOf<typeof applicationErrorsTotal>>;
  private readonly payments: Counter<AttributesOf<typeof paymentFailuresTotal>>;
  private readonly uploads: Counter<AttributesOf<typeof fileUploadFailuresTotal>>;
  private readonly types = new BoundedValues(`${applicationErrorsTotal.name} error_type`, 200);
  private readonly components = new BoundedValues(`${applicationErrorsTotal.name} component`, 100);
  private readonly paymentReasons = new BoundedValues(`${paymentFailuresTotal.name} reason`, 50);
  private readonly uploadReasons = new BoundedValues(`${fileUploadFailuresTotal.name} reason`, 50);

  constructor(meter: Shared['meter']) {
    this.errors = createCounter(meter, applicationErrorsTotal);
    this.payments = createCounter(meter, paymentFailuresTotal);
    this.uploads = createCounter(meter, fileUploadFailuresTotal);
  }

  /** application_errors_total{error_type, component}: error_type is the class name (or code) of err, or err itself when a string. */
  record(err: unknown, component: unknown): void {
    safely('application error', () => {
      this.errors.add(1, {
        error_type: this.types.get(errorTypeOf(err)),
        component: this.components.get(nameValue(component, 'unknown')),
      });
    });
  }

  paymentFailed(reason: unknown): void {
    safely('payment failure', () => this.payments.add(1, { reason: this.paymentReasons.get(wordValue(reason, 'unknown')) }));
  }

  uploadFailed(reason: unknown): void {
    safely('upload failure', () => this.uploads.add(1, { reason: this.uploadReasons.get(wordValue(reason, 'unknown')) }));
  }
}
