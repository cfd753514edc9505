export { RedisInstrumentation } from './instrumentation';
export type { RedisInstrumentationConfig } from './types';
