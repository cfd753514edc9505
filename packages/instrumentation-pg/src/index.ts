export { PgInstrumentation, DEFAULT_SLOW_QUERY_MS, DATABASE_COMPONENT } from './instrumentation';
export type { PgInstrumentationConfig, PgPoolInfo } from './types';
export { analyzeStatement, OPERATIONS, TABLE_NONE, TABLE_PATTERN, TABLE_UNKNOWN } from './sql';
export type { Operation, StatementInfo } from './sql';
export { ERROR_TYPES, errorType } from './errors';
