// The few shapes of pg and pg-pool this package reads. pg is only ever imported
// as types (DESIGN: instrumentations import the instrumented library as types);
// these narrow views say exactly which members vigil touches.

/** pg's `Query` (pg/lib/query.js), as submitted to a connection. */
export interface QueryLike {
  text?: unknown;
  name?: unknown;
  _canceledDueToError?: unknown;
}

/** The Query methods vigil wraps. */
export interface QueryPrototype {
  submit(connection: unknown): unknown;
  handleReadyForQuery(connection: unknown): unknown;
  handleError(err: unknown, connection: unknown): unknown;
}

/** pg's Connection: prepared statement texts by name. */
export interface ConnectionLike {
  parsedStatements?: Record<string, unknown>;
}

/** The Client method vigil wraps to see failed connection attempts. */
export interface ClientPrototype {
  _connect(callback: (err?: unknown) => void): unknown;
}

/** pg-pool's Pool. */
export interface PoolLike {
  options?: Record<string, unknown> & { max?: unknown };
  totalCount?: unknown;
  idleCount?: unknown;
  waitingCount?: unknown;
  ending?: unknown;
  ended?: unknown;
}

export interface PoolPrototype {
  connect(...args: unknown[]): unknown;
  newClient?(...args: unknown[]): unknown;
}

/** pg.defaults (the parts used to name pools). */
export interface PgDefaults {
  user?: unknown;
  host?: unknown;
  port?: unknown;
  database?: unknown;
}

/** The exports of `pg` that vigil patches. */
export interface PgModule {
  Client?: { prototype: ClientPrototype; Query?: { prototype: QueryPrototype } };
  Query?: { prototype: QueryPrototype };
  Pool?: { prototype: object };
  defaults?: PgDefaults;
}
