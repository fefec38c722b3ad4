/**
 * A PostgreSQL database of its own for a test (issue 21's request log): created on the server the
 * machines run at 127.0.0.1:5432 (user postgres, trust; REQUEST_LOG_TEST_POSTGRES to point elsewhere)
 * under a random name, dropped (with FORCE, so open connections don't hold it) at the end.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_SERVER =
  process.env['REQUEST_LOG_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432';

async function onServer<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: `${POSTGRES_SERVER}/postgres`,
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  readonly name: string;
  /** postgres://…/name */
  readonly url: string;
  /** Runs one query in the database (a new connection each time). */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `gw_test_${randomBytes(6).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  const url = `${POSTGRES_SERVER}/${name}`;
  return {
    name,
    url,
    async query(sql, params = []) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
    async drop() {
      await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Whether the PostgreSQL server answers; the tests that need it skip (saying why) when not. */
export async function postgresAvailable(): Promise<boolean> {
  try {
    await onServer((client) => client.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}
