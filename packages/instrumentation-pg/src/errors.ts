// Failed queries -> the `error_type` label of application_errors_total.
// A fixed set of values: the SQLSTATE class names of PostgreSQL's Appendix A,
// a few conditions worth their own value, and three values for errors that
// carry no SQLSTATE. Never the message, never the detail.

/** SQLSTATE of a deadlock (db_deadlocks_total). */
export const DEADLOCK_DETECTED = '40P01';

/** Conditions reported by their own name rather than their class name. */
const CONDITIONS: ReadonlyMap<string, string> = new Map([
  ['40P01', 'deadlock_detected'],
  ['40001', 'serialization_failure'],
  ['57014', 'query_canceled'],
  ['53300', 'too_many_connections'],
]);

/** SQLSTATE classes (the first two characters), PostgreSQL Appendix A. */
const CLASSES: ReadonlyMap<string, string> = new Map([
  ['00', 'successful_completion'],
  ['01', 'warning'],
  ['02', 'no_data'],
  ['03', 'sql_statement_not_yet_complete'],
  ['08', 'connection_exception'],
  ['09', 'triggered_action_exception'],
  ['0A', 'feature_not_supported'],
  ['0B', 'invalid_transaction_initiation'],
  ['0F', 'locator_exception'],
  ['0L', 'invalid_grantor'],
  ['0P', 'invalid_role_specification'],
  ['0Z', 'diagnostics_exception'],
  ['20', 'case_not_found'],
  ['21', 'cardinality_violation'],
  ['22', 'data_exception'],
  ['23', 'integrity_constraint_violation'],
  ['24', 'invalid_cursor_state'],
  ['25', 'invalid_transaction_state'],
  ['26', 'invalid_sql_statement_name'],
  ['27', 'triggered_data_change_violation'],
  ['28', 'invalid_authorization_specification'],
  ['2B', 'dependent_privilege_descriptors_still_exist'],
  ['2D', 'invalid_transaction_termination'],
  ['2F', 'sql_routine_exception'],
  ['34', 'invalid_cursor_name'],
  ['38', 'external_routine_exception'],
  ['39', 'external_routine_invocation_exception'],
  ['3B', 'savepoint_exception'],
  ['3D', 'invalid_catalog_name'],
  ['3F', 'invalid_schema_name'],
  ['40', 'transaction_rollback'],
  ['42', 'syntax_error_or_access_rule_violation'],
  ['44', 'with_check_option_violation'],
  ['53', 'insufficient_resources'],
  ['54', 'program_limit_exceeded'],
  ['55', 'object_not_in_prerequisite_state'],
  ['57', 'operator_intervention'],
  ['58', 'system_error'],
  ['72', 'snapshot_failure'],
  ['F0', 'config_file_error'],
  ['HV', 'fdw_error'],
  ['P0', 'plpgsql_error'],
  ['XX', 'internal_error'],
]);

/** No SQLSTATE: the connection failed or broke (refused, reset, timed out, terminated, not queryable). */
export const CONNECTION_ERROR = 'connection_error';
/** No SQLSTATE: pg's client-side `query_timeout` expired ("Query read timeout"). */
export const QUERY_TIMEOUT = 'query_timeout';
/** Anything else (a bad parameter value, a misuse of the client, an unknown SQLSTATE class). */
export const OTHER_ERROR = 'other';

/** Every value errorType can return. */
export const ERROR_TYPES: readonly string[] = [
  ...new Set([...CONDITIONS.values(), ...CLASSES.values(), CONNECTION_ERROR, QUERY_TIMEOUT, OTHER_ERROR]),
];

// Messages pg and pg-pool give connection failures that have no error code.
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout expired',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Connection closed',
];

/** The SQLSTATE of a PostgreSQL error, or undefined. */
export function sqlState(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || code.length !== 5) return undefined;
  for (let i = 0; i < 5; i++) {
    const c = code.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90))) return undefined;
  }
  return CLASSES.has(code.slice(0, 2)) ? code : undefined;
}

/** The error_type label value for an error raised by a query or a connection attempt. */
export function errorType(err: unknown): string {
  try {
    const state = sqlState(err);
    if (state !== undefined) return CONDITIONS.get(state) ?? CLASSES.get(state.slice(0, 2))!;
    if (err === null || typeof err !== 'object') return OTHER_ERROR;
    const { code, syscall, message } = err as { code?: unknown; syscall?: unknown; message?: unknown };
    // Node's system errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ENOTFOUND, EAI_AGAIN, EPIPE, ...)
    // and its socket / stream / TLS errors (ERR_SOCKET_CLOSED, ERR_STREAM_DESTROYED, ERR_TLS_...).
    if (typeof syscall === 'string') return CONNECTION_ERROR;
    if (typeof code === 'string') {
      if (code.startsWith('ERR_')) {
        if (/^ERR_(SOCKET|STREAM|TLS|SSL)_/.test(code)) return CONNECTION_ERROR;
      } else if (/^E[A-Z_]{2,}$/.test(code)) return CONNECTION_ERROR;
    }
    if (typeof message === 'string') {
      if (message.startsWith('Query read timeout')) return QUERY_TIMEOUT;
      for (const m of CONNECTION_MESSAGES) if (message.startsWith(m)) return CONNECTION_ERROR;
    }
    return OTHER_ERROR;
  } catch {
    return OTHER_ERROR;
  }
}
