// Settings resolve in one order everywhere: code option, then environment
// variable, then documented default. A bad value is never fatal: vigil says
// once which setting was wrong and what it uses instead.
import { logOnce } from './log';

const MAX_SETTING_LENGTH = 4096;

function env(name: string): string | undefined {
  const v = process.env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t === '') return undefined;
  if (t.length > MAX_SETTING_LENGTH) {
    logOnce(`setting:${name}:long`, 'warn', `${name} is ${t.length} characters long (more than ${MAX_SETTING_LENGTH}); ignoring it`);
    return undefined;
  }
  return t;
}

function bad(name: string, value: unknown, expected: string, fallback: unknown): void {
  const shown = String(value).slice(0, 80);
  logOnce(`setting:${name}:${shown}`, 'warn', `${name}="${shown}" is not ${expected}; using ${JSON.stringify(fallback)}`);
}

export interface NumberRule {
  /** Smallest accepted value. */
  min?: number;
  /** Largest accepted value. */
  max?: number;
  /** Only whole numbers. */
  integer?: boolean;
}

function checkNumber(name: string, n: number, raw: unknown, fallback: number, rule: NumberRule): number {
  const { min = -Infinity, max = Infinity, integer = false } = rule;
  const expected = `${integer ? 'a whole number' : 'a number'}${min > -Infinity ? ` >= ${min}` : ''}${max < Infinity ? ` <= ${max}` : ''}`;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    bad(name, raw, expected, fallback);
    return fallback;
  }
  return n;
}

/** A number: code option, else the environment variable, else the default. */
export function numberSetting(name: string, option: number | undefined, fallback: number, rule: NumberRule = {}): number {
  if (option !== undefined) return checkNumber(`${name} (code option)`, Number(option), option, fallback, rule);
  const raw = env(name);
  if (raw === undefined) return fallback;
  return checkNumber(name, Number(raw), raw, fallback, rule);
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A boolean: code option, else the environment variable (true/false/1/0/yes/no/on/off), else the default. */
export function booleanSetting(name: string, option: boolean | undefined, fallback: boolean): boolean {
  if (option !== undefined) return !!option;
  const raw = env(name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  bad(name, raw, 'true or false', fallback);
  return fallback;
}

/** A string: code option, else the environment variable, else the default. */
export function stringSetting(name: string, option: string | undefined, fallback: string): string {
  if (option !== undefined && option !== '') return String(option).slice(0, MAX_SETTING_LENGTH);
  return env(name) ?? fallback;
}

/** A comma-separated list: code option, else the environment variable, else the default. Blank items are dropped. */
export function listSetting(name: string, option: readonly string[] | undefined, fallback: readonly string[]): string[] {
  if (option !== undefined) return option.map(String);
  const raw = env(name);
  if (raw === undefined) return [...fallback];
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** One of a fixed set of words: code option, else the environment variable, else the default. */
export function choiceSetting<T extends string>(name: string, option: T | undefined, choices: readonly T[], fallback: T): T {
  const raw = option ?? env(name);
  if (raw === undefined) return fallback;
  const v = String(raw).toLowerCase() as T;
  if (choices.includes(v)) return v;
  bad(name, raw, `one of ${choices.join(', ')}`, fallback);
  return fallback;
}
