// Check messages end up in a JSON answer that load balancers, probes and
// sometimes the public read. They stay short, on one line, and never carry a
// password, a token or a connection string, even when a driver's error does.

/** Longest message a check reports. */
export const MAX_MESSAGE_LENGTH = 256;

// URLs of data stores (they are connection strings) and any URL with user info.
const STORE_URL = /\b(postgres(?:ql)?|redis|rediss|mysql|mariadb|mongodb(?:\+srv)?|amqps?|mssql|sqlserver):\/\/[^\s'"<>]*/gi;
const USERINFO_URL = /\b([a-z][a-z0-9+.-]*):\/\/[^\s/@'"<>]*@[^\s'"<>]*/gi;
// key=value and key: value pairs of secrets (libpq conninfo, query strings, error texts).
const SECRET_PAIR = /\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]+/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One line, secrets removed, at most MAX_MESSAGE_LENGTH characters. */
export function cleanMessage(text: string, secrets: readonly string[] = []): string {
  let s = String(text);
  for (const secret of secrets) {
    if (secret.length >= 3) s = s.replace(new RegExp(escapeRegExp(secret), 'g'), '***');
  }
  s = s
    .replace(STORE_URL, (_m, scheme: string) => `${scheme}://***`)
    .replace(USERINFO_URL, (_m, scheme: string) => `${scheme}://***`)
    .replace(SECRET_PAIR, (_m, key: string, sep: string) => `${key}${sep}***`)
    .replace(CONTROL, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
  if (s.length > MAX_MESSAGE_LENGTH) s = `${s.slice(0, MAX_MESSAGE_LENGTH - 1)}…`;
  return s;
}

/** The text of whatever was thrown; AggregateError (a host with several addresses) lists its errors. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    if (err.message) return err.message;
    const inner = (err as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner.length > 0) return inner.map(errorText).join('; ');
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code) return code;
    return err.name || 'unknown error';
  }
  if (typeof err === 'string') return err || 'unknown error';
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
