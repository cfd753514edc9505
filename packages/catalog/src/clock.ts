// The clock durations are measured with. How it is read matters at one read per query or
// command (callgrind, Node 22, instructions per read):
// - the global `performance` is a lazy getter that runs on every access: ~420 through it,
//   ~210 through the perf_hooks binding;
// - inside a try block V8 takes the clock's slow path (~380): read it before the try;
// - import it from '@vigil/catalog/clock', not the package index: tsc re-exports through
//   getters on an exports object with too many properties to stay fast (~+130 a call).
import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds (performance.now()). */
export function nowMs(): number {
  return performance.now();
}
