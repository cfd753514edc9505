// vigil's own log lines: one clear line on stderr, prefixed "[vigil]", and each
// distinct problem only once, so a failing dependency cannot flood the app's logs.
const said = new Set<string>();
const MAX_KEYS = 1000;
let saturated = false;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Record<LogLevel | 'none', number> = { none: 0, error: 1, warn: 2, info: 3, debug: 4 };

let threshold: LogLevel | 'none' = 'info';

/** Sets the least severe level written (from OTEL_LOG_LEVEL in @vigil/node). */
export function setLogLevel(level: LogLevel | 'none'): void {
  threshold = level;
}

/** Writes one log line. */
export function log(level: LogLevel, message: string): void {
  if (ORDER[level] > ORDER[threshold]) return;
  try {
    process.stderr.write(`[vigil] ${level}: ${message}\n`);
  } catch {
    // stderr closed: nothing sensible left to do, and the app must go on.
  }
}

/**
 * Writes the line the first time `key` is seen; later calls with the same key are silent.
 * Past MAX_KEYS distinct keys (a message keyed by hostile values), one last line says so
 * and further new keys are silent too. Returns whether it wrote.
 */
export function logOnce(key: string, level: LogLevel, message: string): boolean {
  if (said.has(key)) return false;
  if (said.size >= MAX_KEYS) {
    if (!saturated) {
      saturated = true;
      log('warn', `more than ${MAX_KEYS} distinct problems reported; further new ones are not logged`);
    }
    return false;
  }
  said.add(key);
  log(level, message);
  return true;
}
