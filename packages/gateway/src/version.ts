import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** This package's version (build/src/version.js -> ../../package.json). */
export const VERSION: string = (() => {
  try {
    const v = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
