import type { Logger } from './internal-types';
import type { LogRecord } from './types';

const RANK: Record<LogRecord['level'], number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One JSON object per line on stderr. */
export function stderrSink(record: LogRecord): void {
  process.stderr.write(`${JSON.stringify(record)}\n`);
}

/** A logger writing records at or above `level` to `sink`; a throwing sink is ignored. */
export function createLogger(level: LogRecord['level'], sink: (r: LogRecord) => void): Logger {
  const min = RANK[level];
  return (lvl, msg, fields) => {
    if (RANK[lvl] < min) return;
    try {
      sink({ time: new Date().toISOString(), level: lvl, msg, ...fields });
    } catch {
      // Logging must never break delivery.
    }
  };
}
