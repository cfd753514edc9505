// Bounded label values for the gateway metrics (DESIGN principle 4).
import { identValue, truncate } from '@vigil/catalog';

/** An error code: an HTTP status or an identifier, [A-Za-z0-9_.:-] only, at most 40 characters. */
export function codeValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(Math.trunc(v)) : 'unknown';
  return identValue(v, 'unknown', 40);
}

// Order matters: whole structures (URLs, emails, UUIDs, times) before the
// numbers inside them; quoted values before ids; numbers last.
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bhttps?:\/\/[^\s"'<>`]+/gi, '<url>'],
  [/[^\s@"'`<>()[\]]*@[\w-]+(?:\.[\w-]+)+/g, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g, '<time>'],
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<ip>'],
  [/"[^"\n]{0,200}"/g, '"<v>"'],
  [/\u201c[^\u201d\n]{0,200}\u201d/g, '\u201c<v>\u201d'],
  [/`[^`\n]{0,200}`/g, '`<v>`'],
  [/(?<![A-Za-z0-9])'[^'\n]{0,200}'(?![A-Za-z0-9])/g, "'<v>'"],
  [/\b(?:sk|pk|org|proj|req|chatcmpl|cmpl|call|run|thread|file|msg|user|asst|batch|ft|key|tok|acct|sess|resp)[-_][A-Za-z0-9_-]{3,}/gi, '<id>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>'],
  [/\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}\b/g, '<id>'],
  [/(?<![A-Za-z0-9_.-])\d+(?:\.\d+)?/g, '<n>'],
];

/**
 * An upstream error message made low-cardinality: URLs, emails, UUIDs, times, IPs, quoted values, ids,
 * hex strings and numbers become placeholders (<url> <email> <uuid> <time> <ip> "<v>" <id> <hex> <n>);
 * whitespace is collapsed; the result is cut to maxLength.
 */
export function normalizeErrorMessage(message: unknown, maxLength = 100): string {
  if (message === undefined || message === null) return 'unknown';
  // Work on a bounded prefix: nothing past it could survive truncation anyway.
  let s = truncate(String(message), maxLength * 8).replace(/[\u0000-\u001f\u007f]+/g, ' ');
  for (const [re, placeholder] of RULES) s = s.replace(re, placeholder);
  s = truncate(s.replace(/\s+/g, ' ').trim(), maxLength).trimEnd();
  return s === '' ? 'unknown' : s;
}
