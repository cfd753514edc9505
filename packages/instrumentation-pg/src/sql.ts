// Statement analysis: the operation and the main table of a SQL text, for the
// `operation` and `table` labels of the db_* metrics.
//
// A small hand-written PostgreSQL lexer (comments, string literals, dollar
// quotes, quoted identifiers) feeds a few dozen lines of recursive descent
// that only look for what the labels need: the statement verb, the WITH list,
// and the first relation of the main statement. Nothing else of the SQL is
// kept: the result is one of a fixed set of operations and either an
// identifier that matches TABLE_PATTERN or one of two fixed values. No
// literal, parameter or comment can come out, because only identifier tokens
// in relation position are ever read.
//
// Bounded work: the lexer reads at most MAX_SCAN_CHARS characters and
// MAX_TOKENS tokens per analysis (shared by every nested CTE or subquery it
// looks into, at most MAX_DEPTH levels deep), then gives up with `unknown`.
// The analysis never throws: any surprise ends in { other, unknown }.

/** The `operation` values. Statements outside this set are `other`. */
export const OPERATIONS = [
  'select',
  'insert',
  'update',
  'delete',
  'merge',
  'begin',
  'commit',
  'rollback',
  'savepoint',
  'create',
  'alter',
  'drop',
  'truncate',
  'copy',
  'lock',
  'call',
  'do',
  'set',
  'show',
  'other',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** `table` when the statement names no table (BEGIN, SET, SELECT 1, SELECT now()). */
export const TABLE_NONE = 'none';
/** `table` when the statement has a table that cannot be told from its text (malformed, too long, FROM a function). */
export const TABLE_UNKNOWN = 'unknown';

/**
 * Every `table` value matches this: an identifier (optionally schema-qualified) of ASCII letters, digits, `_`, `$`,
 * and — inside quoted identifiers — space and `-`; at most 127 characters.
 */
export const TABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_$ .-]{0,126}$/;

export interface StatementInfo {
  readonly operation: Operation;
  readonly table: string;
}

const MAX_SCAN_CHARS = 256 * 1024;
const MAX_TOKENS = 5_000;
/** Longest unquoted word kept (PostgreSQL names are at most 63 bytes). */
const MAX_WORD = 256;
const MAX_DEPTH = 8;

const enum Tok {
  End,
  /** Unquoted word: keyword or identifier; `value` is lower-cased. */
  Word,
  /** Quoted identifier; `value` is its text with "" unescaped. */
  QIdent,
  /** String literal, number, parameter or operator character: nothing we read. */
  Other,
  LParen,
  RParen,
  Comma,
  Semi,
  Dot,
}

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

// Runs of one character class, matched natively (sticky: from lastIndex only; linear, no backtracking).
const SPACES = /[ \t\n\v\f\r]*/y;
const DIGITS = /[0-9]*/y;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]*/y;
const TAG_PART = /[A-Za-z0-9_\u0080-\uffff]*/y;
const NUMBER_PART = /[0-9A-Za-z_.]*/y;
const SINGLE_QUOTES = /'*/y;
const DOUBLE_QUOTES = /"*/y;

/** Shared budget of one analysis. */
interface Budget {
  tokens: number;
  /** An unterminated string, comment, dollar quote or quoted identifier ran to the end of the text. */
  broken: boolean;
}

class Lexer {
  private pos: number;
  private pushedBack = false;
  /** Next \n / \r at or after the current comment (-1: none left; -2: not searched yet). */
  private lf = -2;
  private cr = -2;
  type: Tok = Tok.End;
  value = '';
  /** Start and end offsets of the current token. */
  start = 0;
  end = 0;

  constructor(
    private readonly text: string,
    from: number,
    private readonly limit: number,
    private readonly budget: Budget,
  ) {
    this.pos = from;
  }

  /** A lexer over [from, to) of the same text, sharing the budget. */
  sub(from: number, to: number): Lexer {
    return new Lexer(this.text, from, to, this.budget);
  }

  /** Whether the current token is the unquoted word w (lower case). */
  is(w: string): boolean {
    return this.type === Tok.Word && this.value === w;
  }

  /** The next call to next() returns the current token again. */
  unread(): void {
    this.pushedBack = true;
  }

  /** Index of str at or after from that ends within the limit, or -1 (native search: fast even before the JIT warms up). */
  private find(str: string, from: number): number {
    const i = this.text.indexOf(str, from);
    return i < 0 || i + str.length > this.limit ? -1 : i;
  }

  /** End of the run of characters matching a sticky pattern from p, within the limit. */
  private run(re: RegExp, p: number): number {
    re.lastIndex = p;
    re.test(this.text);
    return Math.min(re.lastIndex, this.limit);
  }

  next(): Tok {
    if (this.pushedBack) {
      this.pushedBack = false;
      return this.type;
    }
    if (--this.budget.tokens < 0) return (this.type = Tok.End);
    const s = this.text;
    const n = this.limit;
    let p = this.pos;
    // Whitespace and comments.
    for (;;) {
      if (p < n && isSpace(s.charCodeAt(p))) p = this.run(SPACES, p);
      if (p + 1 < n && s.charCodeAt(p) === 45 && s.charCodeAt(p + 1) === 45) {
        // Comments count against the token budget like tokens, so a wall of them stays bounded.
        if (--this.budget.tokens < 0) return (this.type = Tok.End);
        // -- to the end of the line (the next \n and \r are remembered: many comments, one search each)
        if (this.lf !== -1 && this.lf < p) this.lf = this.find('\n', p);
        if (this.cr !== -1 && this.cr < p) this.cr = this.find('\r', p);
        const lf = this.lf;
        const cr = this.cr;
        p = lf < 0 ? (cr < 0 ? n : cr) : cr < 0 ? lf : Math.min(lf, cr);
        continue;
      }
      if (p + 1 < n && s.charCodeAt(p) === 47 && s.charCodeAt(p + 1) === 42) {
        // /* ... */, nested as PostgreSQL nests them
        p += 2;
        let depth = 1;
        let open = this.find('/*', p);
        while (depth > 0) {
          const close = this.find('*/', p);
          // Each nesting step counts against the token budget, so a wall of "/*" stays bounded.
          if (close < 0 || --this.budget.tokens < 0) break;
          if (open >= 0 && open < close) {
            depth++;
            p = open + 2;
          } else {
            depth--;
            p = close + 2;
          }
          if (open >= 0 && open < p) open = this.find('/*', p);
        }
        if (depth > 0) {
          this.budget.broken = true;
          p = n;
        }
        continue;
      }
      break;
    }
    this.start = p;
    if (p >= n) {
      this.pos = this.end = n;
      return (this.type = Tok.End);
    }
    const c = s.charCodeAt(p);
    let type: Tok = Tok.Other;
    if (c === 40) {
      type = Tok.LParen;
      p++;
    } else if (c === 41) {
      type = Tok.RParen;
      p++;
    } else if (c === 44) {
      type = Tok.Comma;
      p++;
    } else if (c === 59) {
      type = Tok.Semi;
      p++;
    } else if (c === 46 && !(p + 1 < n && isDigit(s.charCodeAt(p + 1)))) {
      type = Tok.Dot;
      p++;
    } else if (c === 39) {
      p = this.skipString(p + 1);
    } else if ((c === 69 || c === 101) && p + 1 < n && s.charCodeAt(p + 1) === 39) {
      // E'...': backslash escapes.
      p = this.skipEscapeString(p + 2);
    } else if (c === 34) {
      // "quoted identifier" with "" for a quote: a run of k quotes is k/2 quotes of the name when k
      // is even, and ends the name when k is odd.
      let v = '';
      let from = p + 1;
      let closed = false;
      for (;;) {
        const q = this.find('"', from);
        if (q < 0) break;
        const k = this.run(DOUBLE_QUOTES, q) - q;
        v += s.slice(from, q) + '"'.repeat(k >> 1);
        if (k & 1) {
          closed = true;
          p = q + k;
          break;
        }
        from = q + k;
      }
      if (closed) {
        type = Tok.QIdent;
        this.value = v;
      } else {
        // An unterminated identifier runs to the end: nothing after it can be read.
        this.budget.broken = true;
        p = n;
      }
    } else if (c === 36) {
      // $1 parameter, or $tag$ ... $tag$ dollar quote, or a lone $ (operator).
      if (p + 1 < n && isDigit(s.charCodeAt(p + 1))) {
        p = this.run(DIGITS, p + 1);
      } else {
        let q = p + 1;
        if (q < n && isIdentStart(s.charCodeAt(q))) q = this.run(TAG_PART, q + 1);
        if (q < n && s.charCodeAt(q) === 36) {
          const tag = s.slice(p, q + 1);
          const close = this.find(tag, q + 1);
          if (close < 0) {
            this.budget.broken = true;
            p = n;
          } else p = close + tag.length;
        } else p++;
      }
    } else if (isIdentStart(c)) {
      const q = this.run(IDENT_PART, p + 1);
      type = Tok.Word;
      // A name longer than any label can hold is read as '' (no keyword, never a valid table).
      this.value = q - p <= MAX_WORD ? s.slice(p, q).toLowerCase() : '';
      p = q;
    } else if (isDigit(c) || c === 46) {
      p = this.run(NUMBER_PART, p + 1);
      // 1e+5, 2.5E-3: one signed exponent.
      const sign = p < n ? s.charCodeAt(p) : 0;
      if ((sign === 43 || sign === 45) && (s.charCodeAt(p - 1) | 32) === 101 && p + 1 < n && isDigit(s.charCodeAt(p + 1))) {
        p = this.run(NUMBER_PART, p + 1);
      }
    } else {
      // One operator character (+ - * / < > = ~ ! @ # % ^ & | ` ? : [ ] ...).
      p++;
    }
    this.pos = this.end = p;
    return (this.type = type);
  }

  /** After the opening quote of '...': the end of the literal ('' is a quote). */
  private skipString(p: number): number {
    for (;;) {
      const q = this.find("'", p);
      if (q < 0) {
        this.budget.broken = true;
        return this.limit;
      }
      // A run of k quotes: k even is k/2 quotes inside the literal, k odd ends it.
      const k = this.run(SINGLE_QUOTES, q) - q;
      if (k & 1) return q + k;
      p = q + k;
    }
  }

  /** After the opening quote of E'...': the end of the literal (backslash escapes the next character, '' is a quote). */
  private skipEscapeString(p: number): number {
    let q = this.find("'", p);
    let b = this.find('\\', p);
    for (;;) {
      if (q < 0) {
        this.budget.broken = true;
        return this.limit;
      }
      if (b >= 0 && b < q) {
        p = b + 2;
        if (q < p) q = this.find("'", p);
        b = this.find('\\', p);
        continue;
      }
      const k = this.run(SINGLE_QUOTES, q) - q;
      if (k & 1) return q + k;
      p = q + k;
      q = this.find("'", p);
      if (b >= 0 && b < p) b = this.find('\\', p);
    }
  }

  /**
   * Called just after a `(`: moves past its matching `)` and returns the span between them,
   * or undefined when the text ends first.
   */
  skipParens(): { from: number; to: number } | undefined {
    const from = this.end;
    let depth = 1;
    for (;;) {
      const t = this.next();
      if (t === Tok.End) return undefined;
      if (t === Tok.LParen) depth++;
      else if (t === Tok.RParen && --depth === 0) return { from, to: this.start };
    }
  }
}

/** CTE names in scope, to their body spans. */
interface Scope {
  readonly ctes: Map<string, { from: number; to: number }>;
  readonly parent: Scope | undefined;
}

function findCte(scope: Scope | undefined, name: string): { from: number; to: number } | undefined {
  for (let s = scope; s; s = s.parent) {
    const span = s.ctes.get(name);
    if (span) return span;
  }
  return undefined;
}

/** Words that start a query inside parentheses or after a WITH list. */
const QUERY_START = new Set(['select', 'values', 'table', 'with']);

const VERBS = new Map<string, Operation>([
  ['select', 'select'],
  ['values', 'select'],
  ['table', 'select'],
  ['insert', 'insert'],
  ['update', 'update'],
  ['delete', 'delete'],
  ['merge', 'merge'],
  ['begin', 'begin'],
  ['start', 'begin'],
  ['commit', 'commit'],
  ['end', 'commit'],
  ['rollback', 'rollback'],
  ['abort', 'rollback'],
  ['savepoint', 'savepoint'],
  ['release', 'savepoint'],
  ['create', 'create'],
  ['alter', 'alter'],
  ['drop', 'drop'],
  ['truncate', 'truncate'],
  ['copy', 'copy'],
  ['lock', 'lock'],
  ['call', 'call'],
  ['do', 'do'],
  ['set', 'set'],
  ['reset', 'set'],
  ['show', 'show'],
]);

/** Statements that may follow a WITH list. */
const AFTER_WITH = new Set(['select', 'values', 'table', 'insert', 'update', 'delete', 'merge']);

/** Set operations: a "(" right after one of them opens the next branch of the main query. */
const SET_OPERATIONS = new Set(['union', 'intersect', 'except']);

interface Found {
  operation: Operation;
  /** Parts of the qualified name as written (unquoted lower-cased), or a fixed value. */
  table: string[] | typeof TABLE_NONE | typeof TABLE_UNKNOWN;
}

const UNKNOWN: Found = { operation: 'other', table: TABLE_UNKNOWN };

class Analyzer {
  /** CTE bodies being resolved (by start offset): a recursive CTE's reference to itself reads no table. */
  private readonly resolving = new Set<number>();

  /** The statement the lexer is at (first token not read yet). */
  statement(lx: Lexer, depth: number, outer: Scope | undefined): Found {
    let t = lx.next();
    let parens = 0;
    while (t === Tok.LParen) {
      parens++;
      t = lx.next();
    }
    if (t !== Tok.Word) return t === Tok.End && parens === 0 ? { operation: 'other', table: TABLE_NONE } : UNKNOWN;
    let scope = outer;
    let verb = lx.value;
    if (verb === 'with') {
      const ctes = new Map<string, { from: number; to: number }>();
      scope = { ctes, parent: outer };
      if (!this.withList(lx, ctes)) return UNKNOWN;
      t = lx.type;
      while (t === Tok.LParen) {
        parens++;
        t = lx.next();
      }
      if (t !== Tok.Word) return UNKNOWN;
      verb = lx.value;
    }
    let operation: Operation = VERBS.get(verb) ?? 'other';
    if (operation === 'rollback') {
      // ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name
      this.skipWords(lx, ['work', 'transaction']);
      if (lx.next() === Tok.Word && lx.is('to')) operation = 'savepoint';
      else lx.unread();
    }
    return { operation, table: this.tableOf(operation, verb, lx, depth, scope, parens) };
  }

  /** After WITH: reads the CTE list; leaves the lexer on the first token of the main statement. */
  private withList(lx: Lexer, ctes: Map<string, { from: number; to: number }>): boolean {
    let t = lx.next();
    if (lx.is('recursive')) t = lx.next();
    for (;;) {
      if (t !== Tok.Word && t !== Tok.QIdent) return false;
      const name = lx.value;
      t = lx.next();
      if (t === Tok.LParen) {
        if (!lx.skipParens()) return false;
        t = lx.next();
      }
      if (!lx.is('as')) return false;
      t = lx.next();
      if (lx.is('not')) t = lx.next();
      if (lx.is('materialized')) t = lx.next();
      if (t !== Tok.LParen) return false;
      const span = lx.skipParens();
      if (!span) return false;
      if (!ctes.has(name)) ctes.set(name, span);
      t = lx.next();
      // SEARCH / CYCLE clauses of a recursive CTE run up to the comma or the main statement.
      while (t !== Tok.Comma && t !== Tok.End && t !== Tok.LParen && !(t === Tok.Word && AFTER_WITH.has(lx.value))) {
        t = lx.next();
      }
      if (t !== Tok.Comma) return t !== Tok.End;
      t = lx.next();
    }
  }

  private tableOf(operation: Operation, verb: string, lx: Lexer, depth: number, scope: Scope | undefined, parens: number): Found['table'] {
    switch (operation) {
      case 'select':
        if (verb === 'values') return TABLE_NONE;
        if (verb === 'table') return this.relationName(lx);
        return this.selectFrom(lx, depth, scope, parens);
      case 'insert':
      case 'merge':
        return this.afterWord(lx, 'into') ? this.relationName(lx) : TABLE_UNKNOWN;
      case 'delete':
        return this.afterWord(lx, 'from') ? this.relationName(lx) : TABLE_UNKNOWN;
      case 'update':
        return this.relationName(lx);
      case 'copy': {
        // COPY table [(columns)] FROM/TO ..., or COPY (query) TO ...
        const t = lx.next();
        lx.unread();
        return t === Tok.LParen ? this.relation(lx, depth, scope) : this.relationName(lx);
      }
      case 'truncate':
      case 'lock': {
        lx.next();
        if (!(lx.is('table'))) lx.unread();
        return this.relationName(lx);
      }
      case 'create':
        return this.createTarget(lx);
      case 'alter':
      case 'drop': {
        if ((lx.next(), !lx.is('table'))) return TABLE_NONE;
        this.skipWords(lx, ['if', 'not', 'exists']);
        return this.relationName(lx);
      }
      case 'other':
        return TABLE_UNKNOWN;
      default:
        // begin, commit, rollback, savepoint, call, do, set, show: no table.
        return TABLE_NONE;
    }
  }

  private afterWord(lx: Lexer, word: string): boolean {
    return lx.next() === Tok.Word && lx.value === word;
  }

  private skipWords(lx: Lexer, words: readonly string[]): void {
    while (lx.next() === Tok.Word && words.includes(lx.value));
    lx.unread();
  }

  private createTarget(lx: Lexer): Found['table'] {
    this.skipWords(lx, ['or', 'replace', 'temp', 'temporary', 'unlogged', 'global', 'local', 'unique']);
    if (lx.next() !== Tok.Word) return TABLE_NONE;
    if (lx.value === 'table') {
      this.skipWords(lx, ['if', 'not', 'exists']);
      return this.relationName(lx);
    }
    if (lx.value !== 'index') return TABLE_NONE;
    // CREATE INDEX [CONCURRENTLY] [[IF NOT EXISTS] name] ON [ONLY] table
    for (let i = 0; i < 8; i++) {
      const t = lx.next();
      if (lx.is('on')) return this.relationName(lx);
      if (t !== Tok.Word && t !== Tok.QIdent && t !== Tok.Dot) return TABLE_UNKNOWN;
    }
    return TABLE_UNKNOWN;
  }

  /**
   * SELECT ...: the first relation of the first FROM of the main query. `parens` is how many "(" the
   * statement opened with. A FROM counts at the depth of the current branch of the main query:
   * `SELECT (SELECT x FROM a) FROM b` is b, `(SELECT 1) UNION (SELECT x FROM a)` is a.
   */
  private selectFrom(lx: Lexer, depth: number, scope: Scope | undefined, parens: number): Found['table'] {
    let level = parens;
    let branch = parens;
    let prev = '';
    let afterSetOperation = false;
    for (;;) {
      const t = lx.next();
      switch (t) {
        case Tok.End:
          return TABLE_NONE;
        case Tok.LParen:
          level++;
          if (afterSetOperation) branch = level;
          break;
        case Tok.RParen:
          if (level > 0) level--;
          if (level < branch) branch = level;
          break;
        case Tok.Semi:
          if (level <= branch) return TABLE_NONE;
          break;
        case Tok.Word:
          if (level === branch) {
            // `a IS [NOT] DISTINCT FROM b` is not a FROM clause.
            if (lx.value === 'from' && prev !== 'distinct') return this.relation(lx, depth, scope);
          }
          break;
      }
      if (t === Tok.Word) {
        const w = lx.value;
        if (level === branch && SET_OPERATIONS.has(w)) afterSetOperation = true;
        else if (!(afterSetOperation && (w === 'all' || w === 'distinct'))) afterSetOperation = false;
        prev = w;
      } else {
        if (t !== Tok.LParen) afterSetOperation = false;
        prev = '';
      }
    }
  }

  /**
   * A FROM item (or COPY's source): a table name, a CTE name (resolved to the CTE's own table),
   * a parenthesised subquery or join (its first relation), or a function (unknown).
   */
  private relation(lx: Lexer, depth: number, scope: Scope | undefined): Found['table'] {
    let t = lx.next();
    while (t === Tok.Word && (lx.value === 'only' || lx.value === 'lateral')) t = lx.next();
    if (t === Tok.LParen) {
      const span = lx.skipParens();
      if (!span || depth >= MAX_DEPTH) return TABLE_UNKNOWN;
      const inner = lx.sub(span.from, span.to);
      const first = inner.next();
      inner.unread();
      if (first === Tok.LParen || (first === Tok.Word && QUERY_START.has(inner.value))) {
        const found = this.statement(inner, depth + 1, scope);
        // A parenthesised join `((a JOIN b) ...)` also starts with "(": fall back to reading it as a FROM item.
        if (found.operation === 'select' || first !== Tok.LParen) return found.table;
        return this.relation(lx.sub(span.from, span.to), depth + 1, scope);
      }
      return this.relation(inner, depth + 1, scope);
    }
    if (t !== Tok.Word && t !== Tok.QIdent) return TABLE_UNKNOWN;
    const quoted = t === Tok.QIdent;
    const parts = this.qualifiedName(lx);
    const after = lx.next();
    if (after === Tok.LParen) return TABLE_UNKNOWN; // FROM generate_series(...), unnest(...), ROWS FROM (...)
    if (!quoted && parts.length === 1 && parts[0] === 'rows' && after === Tok.Word && lx.value === 'from') return TABLE_UNKNOWN;
    lx.unread();
    if (parts.length === 1) {
      const cte = findCte(scope, parts[0]!);
      if (cte) {
        if (this.resolving.has(cte.from)) return TABLE_NONE;
        if (depth >= MAX_DEPTH) return TABLE_UNKNOWN;
        this.resolving.add(cte.from);
        const found = this.statement(lx.sub(cte.from, cte.to), depth + 1, scope);
        this.resolving.delete(cte.from);
        return found.table;
      }
    }
    return parts;
  }

  /** The target of INSERT INTO / UPDATE / DELETE FROM / TRUNCATE ...: [ONLY] name. */
  private relationName(lx: Lexer): Found['table'] {
    let t = lx.next();
    while (lx.is('only')) t = lx.next();
    if (t !== Tok.Word && t !== Tok.QIdent) return TABLE_UNKNOWN;
    return this.qualifiedName(lx);
  }

  /** The current token is a name: reads `a`, `a.b`, `a.b.c`. */
  private qualifiedName(lx: Lexer): string[] {
    const parts = [lx.value];
    while (parts.length < 4) {
      if (lx.next() !== Tok.Dot) {
        lx.unread();
        break;
      }
      const t = lx.next();
      if (t !== Tok.Word && t !== Tok.QIdent) {
        lx.unread();
        break;
      }
      parts.push(lx.value);
    }
    return parts;
  }
}

/** The label value for qualified name parts: `public.` dropped, a database prefix dropped, checked against TABLE_PATTERN. */
function tableLabel(table: Found['table']): string {
  if (typeof table === 'string') return table;
  let parts = table;
  if (parts.length > 3) return TABLE_UNKNOWN;
  if (parts.length === 3) parts = parts.slice(1);
  if (parts.length === 2 && parts[0] === 'public') parts = parts.slice(1);
  const label = parts.join('.');
  return TABLE_PATTERN.test(label) && label.charCodeAt(label.length - 1) !== 32 ? label : TABLE_UNKNOWN;
}

const OTHER_UNKNOWN: StatementInfo = Object.freeze({ operation: 'other', table: TABLE_UNKNOWN });

/** Limits of one analysis, for tests. */
export const ANALYSIS_LIMITS = Object.freeze({ maxScanChars: MAX_SCAN_CHARS, maxTokens: MAX_TOKENS, maxDepth: MAX_DEPTH });

/** analyzeStatement, plus how many tokens it read (at most ANALYSIS_LIMITS.maxTokens). */
export function analyzeStatementCounted(text: unknown): { info: StatementInfo; tokens: number } {
  if (typeof text !== 'string') return { info: OTHER_UNKNOWN, tokens: 0 };
  const budget: Budget = { tokens: MAX_TOKENS, broken: false };
  try {
    const lx = new Lexer(text, 0, Math.min(text.length, MAX_SCAN_CHARS), budget);
    const found = new Analyzer().statement(lx, 0, undefined);
    // "No table" is only known when the whole text was read.
    const unfinished = budget.tokens < 0 || budget.broken || text.length > MAX_SCAN_CHARS;
    const table = unfinished && found.table === TABLE_NONE ? TABLE_UNKNOWN : tableLabel(found.table);
    return { info: Object.freeze({ operation: found.operation, table }), tokens: MAX_TOKENS - Math.max(0, budget.tokens) };
  } catch {
    return { info: OTHER_UNKNOWN, tokens: MAX_TOKENS - Math.max(0, budget.tokens) };
  }
}

/**
 * The operation and main table of a SQL text. Never throws; any input that is not a string,
 * or that cannot be read within the bounds, gives { operation: 'other', table: 'unknown' }.
 */
export function analyzeStatement(text: unknown): StatementInfo {
  return analyzeStatementCounted(text).info;
}

/**
 * A bounded cache of analyses by statement text: two generations of Maps (a hit in the older
 * one moves the entry to the newer; when the newer one is full it becomes the older one), so
 * statements in use stay while one-off texts age out, with O(1) work per lookup.
 * Texts longer than `maxLength` are analysed every time and not kept. What it keeps per text
 * is `make(analysis)`: the analysis itself by default.
 */
export class StatementCache<T = StatementInfo> {
  private young = new Map<string, T>();
  private old = new Map<string, T>();
  private readonly generation: number;

  constructor(
    readonly maxEntries: number,
    readonly maxLength: number,
    private readonly make: (info: StatementInfo) => T = (info) => info as T,
  ) {
    this.generation = Math.max(0, Math.floor(maxEntries / 2));
  }

  get(text: string): T {
    if (text.length > this.maxLength || this.generation === 0) return this.make(analyzeStatement(text));
    let entry = this.young.get(text);
    if (entry !== undefined) return entry;
    entry = this.old.get(text);
    if (entry === undefined) entry = this.make(analyzeStatement(text));
    else this.old.delete(text);
    this.young.set(text, entry);
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    return entry;
  }

  /** Entries held (at most maxEntries). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
