import { expect } from 'chai';
import fc from 'fast-check';
import { OPERATIONS, TABLE_NONE, TABLE_PATTERN, TABLE_UNKNOWN, analyzeStatement } from '../src';
import { ANALYSIS_LIMITS, StatementCache, analyzeStatementCounted } from '../src/sql';

// [sql, operation, table]
type Case = [string, string, string];

const prisma: Case[] = [
  ['SELECT "public"."User"."id", "public"."User"."email", "public"."User"."name" FROM "public"."User" WHERE ("public"."User"."email" = $1 AND 1=1) LIMIT $2 OFFSET $3', 'select', 'User'],
  ['INSERT INTO "public"."Post" ("title","content","published","authorId") VALUES ($1,$2,$3,$4) RETURNING "public"."Post"."id", "public"."Post"."title"', 'insert', 'Post'],
  ['UPDATE "public"."User" SET "name" = $1 WHERE ("public"."User"."id" = $2 AND 1=1) RETURNING "public"."User"."id", "public"."User"."name"', 'update', 'User'],
  ['DELETE FROM "public"."Session" WHERE ("public"."Session"."expires" < $1 AND 1=1)', 'delete', 'Session'],
  ['SELECT COUNT(*) AS "_count$_all" FROM (SELECT "public"."User"."id" FROM "public"."User" WHERE 1=1 OFFSET $1) AS "sub"', 'select', 'User'],
  ['SELECT "t1"."id", "t1"."title", "t1_author"."__prisma_data__" AS "author" FROM "public"."Post" AS "t1" LEFT JOIN LATERAL (SELECT JSONB_BUILD_OBJECT(\'id\', "t2"."id") AS "__prisma_data__" FROM "public"."User" AS "t2" WHERE "t1"."authorId" = "t2"."id" LIMIT $1) AS "t1_author" ON true WHERE "t1"."published" = $2', 'select', 'Post'],
  ['SELECT "billing"."Invoice"."id" FROM "billing"."Invoice" WHERE 1=1', 'select', 'billing.Invoice'],
  ['BEGIN', 'begin', TABLE_NONE],
  ['COMMIT', 'commit', TABLE_NONE],
  ['ROLLBACK', 'rollback', TABLE_NONE],
];

const typeorm: Case[] = [
  ['SELECT "u"."id" AS "u_id", "u"."name" AS "u_name", "p"."id" AS "p_id" FROM "users" "u" LEFT JOIN "photos" "p" ON "p"."userId"="u"."id" WHERE "u"."name" = $1', 'select', 'users'],
  ['SELECT DISTINCT "distinctAlias"."User_id" AS "ids_User_id" FROM (SELECT "User"."id" AS "User_id", "User"."firstName" AS "User_firstName" FROM "user" "User" LEFT JOIN "photo" "photos" ON "photos"."userId"="User"."id") "distinctAlias" ORDER BY "User_id" ASC LIMIT 10', 'select', 'user'],
  ['INSERT INTO "user"("firstName", "lastName", "age") VALUES ($1, $2, $3) RETURNING "id"', 'insert', 'user'],
  ['UPDATE "user" SET "firstName" = $1 WHERE "id" IN ($2)', 'update', 'user'],
  ['DELETE FROM "user" WHERE "id" = $1', 'delete', 'user'],
  ['START TRANSACTION', 'begin', TABLE_NONE],
  ['SELECT * FROM current_schema()', 'select', TABLE_UNKNOWN],
  ['SELECT version()', 'select', TABLE_NONE],
  ['SELECT * FROM "information_schema"."tables" WHERE "table_schema" = \'public\' AND "table_name" = \'migrations\'', 'select', 'information_schema.tables'],
  ['CREATE TABLE "migrations" ("id" SERIAL NOT NULL, "timestamp" bigint NOT NULL, "name" character varying NOT NULL, CONSTRAINT "PK_8c82d7f526340ab734260ea46be" PRIMARY KEY ("id"))', 'create', 'migrations'],
  ['ALTER TABLE "photo" ADD CONSTRAINT "FK_4494006ff358f754d07df5ccc87" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE NO ACTION', 'alter', 'photo'],
];

const sequelize: Case[] = [
  ['INSERT INTO "Users" ("id","firstName","lastName","createdAt","updatedAt") VALUES (DEFAULT,$1,$2,$3,$4) RETURNING "id","firstName","lastName","createdAt","updatedAt";', 'insert', 'Users'],
  ['SELECT "id", "firstName", "lastName", "createdAt", "updatedAt" FROM "Users" AS "User" WHERE "User"."id" = 1;', 'select', 'Users'],
  ['UPDATE "Users" SET "firstName"=$1,"updatedAt"=$2 WHERE "id" = $3', 'update', 'Users'],
  ['DELETE FROM "Users" WHERE "id" = 5', 'delete', 'Users'],
  ['SELECT "User"."id", "Tasks"."id" AS "Tasks.id", "Tasks"."title" AS "Tasks.title" FROM "Users" AS "User" LEFT OUTER JOIN "Tasks" AS "Tasks" ON "User"."id" = "Tasks"."UserId";', 'select', 'Users'],
  ['SELECT count(*) AS "count" FROM "Users" AS "User";', 'select', 'Users'],
  ['CREATE TABLE IF NOT EXISTS "Users" ("id"   SERIAL , "firstName" VARCHAR(255), "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY ("id"));', 'create', 'Users'],
  ["SELECT i.relname AS name, ix.indisprimary AS primary, ix.indisunique AS unique FROM pg_class t, pg_class i, pg_index ix, pg_attribute a WHERE t.oid = ix.indrelid AND t.relkind = 'r' and t.relname = 'Users' GROUP BY i.relname;", 'select', 'pg_class'],
];

const knex: Case[] = [
  ['select "users".* from "users" where "id" = ? limit ?', 'select', 'users'],
  ['select "users".* from "users" where "id" = $1 limit $2', 'select', 'users'],
  ['insert into "accounts" ("email", "name") values ($1, $2) returning "id"', 'insert', 'accounts'],
  ['update "accounts" set "name" = $1 where "id" = $2', 'update', 'accounts'],
  ['delete from "accounts" where "id" = $1', 'delete', 'accounts'],
  ['select count(*) as "cnt" from "users" inner join "orders" on "users"."id" = "orders"."user_id"', 'select', 'users'],
  ['select * from "analytics"."events" where "ts" > $1', 'select', 'analytics.events'],
  ['select * from "knex_migrations" order by "id" asc', 'select', 'knex_migrations'],
  ['create table "knex_migrations" ("id" serial primary key, "name" varchar(255))', 'create', 'knex_migrations'],
];

const drizzleKysely: Case[] = [
  ['select "id", "name" from "users" where "users"."id" = $1', 'select', 'users'],
  ['insert into "users" ("id", "name") values (default, $1) returning "id"', 'insert', 'users'],
  ['select "person"."first_name" from "person" inner join "pet" on "pet"."owner_id" = "person"."id"', 'select', 'person'],
];

const handWritten: Case[] = [
  ['SELECT 1', 'select', TABLE_NONE],
  ['select pg_sleep(0.5)', 'select', TABLE_NONE],
  ['SELECT pg_advisory_lock(1)', 'select', TABLE_NONE],
  ['/* app:api route:/users */ SELECT * FROM users', 'select', 'users'],
  ["SELECT * FROM users /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/", 'select', 'users'],
  ['SELECT 1 -- FROM fake', 'select', TABLE_NONE],
  ['select * from /* nested /* comment */ from fake */ real_table', 'select', 'real_table'],
  ["SELECT * FROM \"Users\" WHERE name = 'O''Reilly from x'", 'select', 'Users'],
  ["SELECT E'it\\'s from fake' AS s FROM real_e", 'select', 'real_e'],
  ["SELECT e'\\\\' AS backslash FROM real_e2", 'select', 'real_e2'],
  ['SELECT $body$ from evil; $body$ AS x', 'select', TABLE_NONE],
  ['SELECT $$ from q $$, $a$ from $b$ nested $b$ $a$ FROM t3', 'select', 't3'],
  ['SELECT * FROM "My Table"', 'select', 'My Table'],
  ['SELECT * FROM "用户"', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM 用户', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM "odd\'name"', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM "say ""hi"""', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM ONLY parent_t', 'select', 'parent_t'],
  ['SELECT * FROM Users', 'select', 'users'],
  ['SELECT * FROM public.users', 'select', 'users'],
  ['SELECT * FROM mydb.public.users', 'select', 'users'],
  ['SELECT * FROM mydb.sales.orders', 'select', 'sales.orders'],
  ['SELECT * FROM pg_catalog.pg_class', 'select', 'pg_catalog.pg_class'],
  ['SELECT * FROM users u JOIN LATERAL (SELECT * FROM orders o WHERE o.user_id = u.id LIMIT 1) x ON true', 'select', 'users'],
  ['SELECT * FROM unnest($1::int[]) AS t(id)', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM generate_series(1, 10) g', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM ROWS FROM (generate_series(1,3), unnest($1))', 'select', TABLE_UNKNOWN],
  ['SELECT a FROM t1 UNION SELECT b FROM t2', 'select', 't1'],
  ['SELECT 1 UNION ALL SELECT b FROM t2', 'select', 't2'],
  ['(SELECT 1) UNION (SELECT a FROM t_paren)', 'select', 't_paren'],
  ['SELECT (SELECT max(x) FROM inner_t) AS m FROM outer_t', 'select', 'outer_t'],
  ['SELECT DISTINCT (SELECT x FROM a_t) FROM b_t', 'select', 'b_t'],
  ['SELECT a IS DISTINCT FROM b', 'select', TABLE_NONE],
  ['SELECT x FROM t_dist WHERE a IS NOT DISTINCT FROM b', 'select', 't_dist'],
  ['SELECT extract(year from created_at), substring(name from 2) FROM events', 'select', 'events'],
  ['SELECT ((((((1))))))', 'select', TABLE_NONE],
  ['SELECT * FROM (SELECT * FROM (SELECT * FROM deep_t) a) b', 'select', 'deep_t'],
  ['SELECT * FROM ((SELECT 1 FROM pq)) x', 'select', 'pq'],
  ['SELECT * FROM ((a_j JOIN b_j ON true) JOIN c_j ON true)', 'select', 'a_j'],
  ['SELECT * FROM (VALUES (1), (2)) AS v(x)', 'select', TABLE_NONE],
  ['VALUES (1, 2)', 'select', TABLE_NONE],
  ['TABLE users', 'select', 'users'],
  ['select 1; drop table users', 'select', TABLE_NONE],
  ['SELECT * FROM x_first; SELECT * FROM y_second', 'select', 'x_first'],
  ['SELECT id FROM jobs WHERE status = $1 ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1', 'select', 'jobs'],
  // CTEs: the main statement's table; a CTE name resolves to the CTE's own table.
  ['WITH recent AS (SELECT * FROM orders WHERE ts > now() - interval \'1 day\') SELECT count(*) FROM recent', 'select', 'orders'],
  ['WITH recent AS (SELECT * FROM orders) SELECT * FROM customers c JOIN recent r ON r.cid = c.id', 'select', 'customers'],
  ['WITH a AS (SELECT * FROM t_chain), b AS (SELECT * FROM a) SELECT * FROM b', 'select', 't_chain'],
  ['WITH RECURSIVE tree(id, parent) AS (SELECT id, parent FROM nodes WHERE parent IS NULL UNION ALL SELECT n.id, n.parent FROM nodes n JOIN tree t ON n.parent = t.id) SELECT * FROM tree', 'select', 'nodes'],
  ['WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r', 'select', TABLE_NONE],
  ['WITH RECURSIVE r AS (SELECT * FROM r) SELECT * FROM r', 'select', TABLE_NONE],
  ['WITH RECURSIVE search_tree(id, link) AS (SELECT t.id, t.link FROM tree_t t UNION ALL SELECT t.id, t.link FROM tree_t t, search_tree st WHERE t.id = st.link) SEARCH DEPTH FIRST BY id SET ordercol CYCLE id SET is_cycle USING path SELECT * FROM search_tree ORDER BY ordercol', 'select', 'tree_t'],
  ['WITH x AS MATERIALIZED (SELECT * FROM big_t) SELECT * FROM x', 'select', 'big_t'],
  ['WITH x AS NOT MATERIALIZED (SELECT * FROM big_t2) SELECT * FROM x', 'select', 'big_t2'],
  ['WITH "X" AS (SELECT * FROM a_q) SELECT * FROM x', 'select', 'x'],
  ['WITH k AS (SELECT 1 AS one) SELECT * FROM k', 'select', TABLE_NONE],
  ['WITH moved AS (DELETE FROM queue WHERE id = $1 RETURNING *) INSERT INTO archive SELECT * FROM moved', 'insert', 'archive'],
  ['WITH upd AS (UPDATE stock SET qty = qty - 1 WHERE id = $1 RETURNING *) SELECT * FROM upd', 'select', 'stock'],
  ['WITH upsert AS (UPDATE kv SET v = $2 WHERE k = $1 RETURNING *) INSERT INTO kv (k, v) SELECT $1, $2 WHERE NOT EXISTS (SELECT * FROM upsert)', 'insert', 'kv'],
  ['WITH d AS (SELECT id FROM stale) DELETE FROM sessions WHERE id IN (SELECT id FROM d)', 'delete', 'sessions'],
  ['WITH s AS (SELECT * FROM src) UPDATE dst SET v = s.v FROM s WHERE dst.id = s.id', 'update', 'dst'],
  // INSERT ... SELECT, UPDATE ... FROM, DELETE ... USING: the target.
  ['INSERT INTO target_t (a, b) SELECT a, b FROM source_t', 'insert', 'target_t'],
  ['INSERT INTO counters AS c (k, v) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET v = c.v + 1', 'insert', 'counters'],
  ['UPDATE t_upd SET a = s.a FROM s_upd s WHERE t_upd.id = s.id', 'update', 't_upd'],
  ['UPDATE ONLY t_only SET a = 1', 'update', 't_only'],
  ["UPDATE jobs SET status = 'running' WHERE id = (SELECT id FROM jobs2 WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *", 'update', 'jobs'],
  ['DELETE FROM t_del USING s_del WHERE t_del.id = s_del.id', 'delete', 't_del'],
  ['MERGE INTO tgt t USING src s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)', 'merge', 'tgt'],
  // Transactions and session statements.
  ['begin isolation level serializable', 'begin', TABLE_NONE],
  ['END', 'commit', TABLE_NONE],
  ['ABORT', 'rollback', TABLE_NONE],
  ['SAVEPOINT sp1', 'savepoint', TABLE_NONE],
  ['RELEASE SAVEPOINT sp1', 'savepoint', TABLE_NONE],
  ['ROLLBACK TO SAVEPOINT sp1', 'savepoint', TABLE_NONE],
  ['ROLLBACK WORK TO sp1', 'savepoint', TABLE_NONE],
  ["SET statement_timeout = '5s'", 'set', TABLE_NONE],
  ['SET LOCAL search_path TO app, public', 'set', TABLE_NONE],
  ['RESET ALL', 'set', TABLE_NONE],
  ['SHOW server_version', 'show', TABLE_NONE],
  ['CALL refresh_totals($1)', 'call', TABLE_NONE],
  ["DO $$ BEGIN PERFORM 1 FROM nowhere; END $$", 'do', TABLE_NONE],
  // DDL and utility.
  ['CREATE TEMP TABLE IF NOT EXISTS tmp_x (id int)', 'create', 'tmp_x'],
  ['CREATE UNLOGGED TABLE app.cache_t (k text)', 'create', 'app.cache_t'],
  ['CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON public.users (email)', 'create', 'users'],
  ['CREATE INDEX ON ONLY measurements (ts)', 'create', 'measurements'],
  ['CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 FROM x $$ LANGUAGE sql', 'create', TABLE_NONE],
  ['CREATE VIEW v AS SELECT * FROM base_t', 'create', TABLE_NONE],
  ['ALTER TABLE IF EXISTS ONLY items ADD COLUMN price numeric', 'alter', 'items'],
  ['ALTER SEQUENCE s RESTART', 'alter', TABLE_NONE],
  ['DROP TABLE IF EXISTS old_t, older_t CASCADE', 'drop', 'old_t'],
  ['DROP INDEX idx', 'drop', TABLE_NONE],
  ['TRUNCATE TABLE ONLY logs_t RESTART IDENTITY', 'truncate', 'logs_t'],
  ['TRUNCATE a_tr, b_tr', 'truncate', 'a_tr'],
  ['LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE', 'lock', 'accounts'],
  ['COPY measurements (ts, v) FROM STDIN WITH (FORMAT csv)', 'copy', 'measurements'],
  ['COPY (SELECT * FROM export_t WHERE x > 1) TO STDOUT', 'copy', 'export_t'],
  ['EXPLAIN ANALYZE SELECT * FROM users', 'other', TABLE_UNKNOWN],
  ['VACUUM ANALYZE users', 'other', TABLE_UNKNOWN],
  ['LISTEN jobs', 'other', TABLE_UNKNOWN],
  ['DISCARD ALL', 'other', TABLE_UNKNOWN],
  ['', 'other', TABLE_NONE],
  ['   -- only a comment', 'other', TABLE_NONE],
  // Malformed.
  ['"unterminated identifier', 'other', TABLE_UNKNOWN],
  ["SELECT 'unterminated string FROM x", 'select', TABLE_UNKNOWN],
  ['SELECT * FROM /* unterminated comment', 'select', TABLE_UNKNOWN],
  ['SELECT $tag$ unterminated FROM x', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM', 'select', TABLE_UNKNOWN],
  ['SELECT * FROM (SELECT * FROM', 'select', TABLE_UNKNOWN],
  ['INSERT users', 'insert', TABLE_UNKNOWN],
  ['WITH x AS SELECT 1', 'other', TABLE_UNKNOWN],
  [')))(((', 'other', TABLE_UNKNOWN],
];

const corpus: Record<string, Case[]> = { prisma, typeorm, sequelize, knex, 'drizzle and kysely': drizzleKysely, 'hand-written': handWritten };

function isValidTable(t: string): boolean {
  return t === TABLE_NONE || t === TABLE_UNKNOWN || (TABLE_PATTERN.test(t) && !t.endsWith(' '));
}

describe('statement analysis (table and operation labels)', () => {
  for (const [style, cases] of Object.entries(corpus)) {
    it(`reads ${style} statements`, () => {
      const wrong: string[] = [];
      for (const [sql, operation, table] of cases) {
        const got = analyzeStatement(sql);
        if (got.operation !== operation || got.table !== table) {
          wrong.push(`${JSON.stringify(sql)}\n    expected ${operation}/${table}, got ${got.operation}/${got.table}`);
        }
      }
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
    });
  }

  it('gives other/unknown for anything that is not a string', () => {
    for (const v of [undefined, null, 42, {}, [], Symbol('x'), () => 'SELECT 1 FROM t', new String('SELECT * FROM t')]) {
      expect(analyzeStatement(v)).to.deep.equal({ operation: 'other', table: TABLE_UNKNOWN });
    }
  });

  it('never lets a literal, parameter or comment out as a table', () => {
    const secrets = ["'4111-1111-1111-1111'", '$$alice@example.com$$', "E'p\\'assw0rd'", '/* token=abc */', '-- ssn 123\n'];
    for (const s of secrets) {
      for (const tpl of ['SELECT * FROM %', 'INSERT INTO % VALUES (1)', 'UPDATE % SET a = 1', 'DELETE FROM %', 'SELECT % FROM t_ok', 'WITH x AS (SELECT %) SELECT * FROM x']) {
        const info = analyzeStatement(tpl.replace('%', s));
        expect(isValidTable(info.table), `${tpl} with ${s}`).to.equal(true);
        expect(info.table).to.not.match(/4111|alice|assw0rd|token|ssn/);
      }
    }
  });

  describe('on random and malformed input (fast-check)', () => {
    const sqlish = fc.array(
      fc.oneof(
        fc.constantFrom(
          'SELECT', 'select', 'FROM', 'from', 'WITH', 'RECURSIVE', 'AS', 'INSERT', 'INTO', 'UPDATE', 'DELETE', 'USING', 'SET',
          'JOIN', 'LATERAL', 'ONLY', 'UNION', 'ALL', 'DISTINCT', 'IS', 'NOT', 'VALUES', 'TABLE', 'CREATE', 'INDEX', 'ON', 'MERGE', 'COPY',
          '(', ')', '((', '))', ',', ';', '.', '*', '=', '$1', '?', '::', "'", "''", '"', '""', 'E\'', '\\', '$$', '$a$', '$', '--', '\n',
          '/*', '*/', 'users', '"Users"', 'public', '"public"', 'x', 'U&"a"', '用户', '\u0000', '\uD800',
        ),
        fc.string({ maxLength: 8 }),
        fc.string({ unit: 'binary', maxLength: 8 }),
      ),
      { maxLength: 60 },
    ).map((parts) => parts.join(' '));

    const anything = fc.oneof(sqlish, fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 300 }));

    it('never throws, returns a known operation and a table in the allowed pattern', () => {
      fc.assert(
        fc.property(anything, (sql) => {
          const info = analyzeStatement(sql);
          expect(OPERATIONS).to.include(info.operation);
          expect(isValidTable(info.table), JSON.stringify(info.table)).to.equal(true);
        }),
        { numRuns: 5000 },
      );
    });

    it('is deterministic and agrees with the cache', () => {
      const cache = new StatementCache(16, 64);
      fc.assert(
        fc.property(anything, (sql) => {
          const a = analyzeStatement(sql);
          expect(analyzeStatement(sql)).to.deep.equal(a);
          expect(cache.get(sql)).to.deep.equal(a);
          expect(cache.get(sql)).to.deep.equal(a);
          expect(cache.size).to.be.at.most(16);
        }),
        { numRuns: 2000 },
      );
    });

    it('reads a bounded number of tokens, whatever the input', () => {
      fc.assert(
        fc.property(sqlish, fc.integer({ min: 1, max: 400 }), (sql, times) => {
          const { tokens } = analyzeStatementCounted(sql.repeat(times));
          expect(tokens).to.be.at.most(ANALYSIS_LIMITS.maxTokens);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('adversarial input', () => {
    const cases: Array<[string, string]> = [
      ['100k opening parentheses', '('.repeat(100_000)],
      ['deeply nested subqueries', 'SELECT * FROM '.concat('(SELECT * FROM '.repeat(5000), 'deep', ')'.repeat(5000))],
      ['a CTE chain longer than the depth limit', 'WITH ' + Array.from({ length: 50 }, (_, i) => `c${i} AS (SELECT * FROM ${i === 0 ? 'base_t' : `c${i - 1}`})`).join(', ') + ' SELECT * FROM c49'],
      ['a 2 MB select list', 'SELECT ' + 'a, '.repeat(700_000) + 'b FROM late_t'],
      ['a 2 MB string literal', "SELECT '" + 'x'.repeat(2_000_000) + "' FROM t"],
      ['many unterminated dollar quotes', '$a$ '.repeat(50_000)],
      ['many nested comments', '/*'.repeat(100_000)],
      ['a huge INSERT', 'INSERT INTO bulk_t (a, b) VALUES ' + '($1, $2), '.repeat(200_000) + '($1, $2)'],
    ];
    for (const [what, sql] of cases) {
      it(`stays within the token budget on ${what}`, () => {
        const { info, tokens } = analyzeStatementCounted(sql);
        expect(tokens).to.be.at.most(ANALYSIS_LIMITS.maxTokens);
        expect(OPERATIONS).to.include(info.operation);
        expect(isValidTable(info.table)).to.equal(true);
      });
    }

    it('still finds what is in reach: a huge INSERT names its target, a long select list gives up as unknown', () => {
      expect(analyzeStatement('INSERT INTO bulk_t (a, b) VALUES ' + '($1, $2), '.repeat(200_000) + '($1, $2)')).to.deep.equal({ operation: 'insert', table: 'bulk_t' });
      expect(analyzeStatement('SELECT ' + 'a, '.repeat(700_000) + 'b FROM late_t')).to.deep.equal({ operation: 'select', table: TABLE_UNKNOWN });
      const chain = 'WITH ' + Array.from({ length: 50 }, (_, i) => `c${i} AS (SELECT * FROM ${i === 0 ? 'base_t' : `c${i - 1}`})`).join(', ') + ' SELECT * FROM c49';
      expect(analyzeStatement(chain).table).to.equal(TABLE_UNKNOWN);
    });
  });

  describe('StatementCache', () => {
    it('holds at most maxEntries texts and keeps the ones in use', () => {
      const cache = new StatementCache(100, 4096);
      const hot = 'SELECT * FROM hot_t WHERE id = $1';
      for (let i = 0; i < 10_000; i++) {
        cache.get(`SELECT * FROM t${i}`);
        if (i % 10 === 0) cache.get(hot);
        expect(cache.size).to.be.at.most(100);
      }
      expect(cache.get(hot)).to.deep.equal({ operation: 'select', table: 'hot_t' });
    });

    it('does not keep texts longer than maxLength, and keeps nothing with maxEntries 0', () => {
      const cache = new StatementCache(100, 50);
      cache.get('SELECT * FROM long_t WHERE ' + 'a = 1 AND '.repeat(10) + 'true');
      expect(cache.size).to.equal(0);
      cache.get('SELECT * FROM short_t');
      expect(cache.size).to.equal(1);
      const none = new StatementCache(0, 4096);
      expect(none.get('SELECT * FROM z_t')).to.deep.equal({ operation: 'select', table: 'z_t' });
      expect(none.size).to.equal(0);
    });
  });
});
