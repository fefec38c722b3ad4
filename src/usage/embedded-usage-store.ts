import type Database from 'better-sqlite3';
import { matchesModelPattern } from '../routing/model-patterns.js';
import { ceilHour, hourOf, lastExpiredHour } from './hours.js';
import { UsageRowBuilder, type GroupValues } from './usage-rows.js';
import type { UsageGroup, UsageIncrement, UsageQuery, UsageRow, UsageStore } from './usage.js';

interface SumRow {
  key?: string;
  model?: string;
  day?: string;
  hour?: string;
  requests: number | null;
  errors: number | null;
  cached: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  cost_micros: number | null;
}

/** The SQL expression of each grouping. */
const GROUP_SQL: Readonly<Record<UsageGroup, string>> = {
  key: 'key_id',
  model: 'model',
  day: 'substr(hour, 1, 10)',
  hour: 'hour',
};

/**
 * Usage in the embedded SQLite file (one instance), table `usage`: one row per (UTC hour, key, model),
 * counters added with INSERT … ON CONFLICT DO UPDATE in one transaction per batch. cost_micros is NULL
 * while no price applied to the row. Rows past the retention (the end of their hour plus
 * usage.retention_days) are deleted at each add and never answered.
 *
 * A transaction either commits or not, and says which: there is no ambiguous failure to retry, so
 * batch numbers need no bookkeeping here.
 */
export class EmbeddedUsageStore implements UsageStore {
  private readonly upsert: Database.Statement;
  private readonly prune: Database.Statement;
  private readonly addAll: (increments: readonly UsageIncrement[], expired: string) => void;

  constructor(
    private readonly database: Database.Database,
    private readonly retentionDays: number,
    private readonly now: () => number = Date.now,
  ) {
    database.exec(`
      CREATE TABLE IF NOT EXISTS usage (
        hour TEXT NOT NULL,
        key_id TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        cached INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER,
        PRIMARY KEY (hour, key_id, model)
      ) WITHOUT ROWID`);
    database.function(
      'gw_model_matches',
      { deterministic: true },
      (pattern: unknown, model: unknown): number =>
        typeof pattern === 'string' && typeof model === 'string' && matchesModelPattern(pattern, model)
          ? 1
          : 0,
    );
    this.upsert = database.prepare(`
      INSERT INTO usage (hour, key_id, model, requests, errors, cached, prompt_tokens, completion_tokens, cost_micros)
      VALUES (@hour, @keyId, @model, @requests, @errors, @cached, @promptTokens, @completionTokens, @costMicros)
      ON CONFLICT (hour, key_id, model) DO UPDATE SET
        requests = requests + excluded.requests,
        errors = errors + excluded.errors,
        cached = cached + excluded.cached,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        cost_micros = CASE WHEN excluded.cost_micros IS NULL THEN cost_micros
                           ELSE coalesce(cost_micros, 0) + excluded.cost_micros END`);
    this.prune = database.prepare('DELETE FROM usage WHERE hour <= ?');
    this.addAll = database.transaction((increments: readonly UsageIncrement[], expired: string) => {
      for (const increment of increments) {
        this.upsert.run({
          hour: increment.hour,
          keyId: increment.keyId,
          model: increment.model,
          requests: increment.requests,
          errors: increment.errors,
          cached: increment.cached,
          promptTokens: increment.promptTokens,
          completionTokens: increment.completionTokens,
          costMicros: increment.costMicros,
        });
      }
      this.prune.run(expired);
    });
  }

  add(increments: readonly UsageIncrement[]): Promise<void> {
    try {
      this.addAll(increments, lastExpiredHour(this.now(), this.retentionDays));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  query(query: UsageQuery): Promise<UsageRow[]> {
    try {
      return Promise.resolve(this.select(query));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private select(query: UsageQuery): UsageRow[] {
    const conditions = ['hour >= @from', 'hour < @to', 'hour > @expired'];
    const parameters: Record<string, string> = {
      from: hourOf(ceilHour(query.from)),
      to: hourOf(ceilHour(query.to)),
      expired: lastExpiredHour(this.now(), this.retentionDays),
    };
    if (query.key !== null) {
      conditions.push('key_id = @key');
      parameters['key'] = query.key;
    }
    if (query.model !== null) {
      conditions.push('gw_model_matches(@model, model)');
      parameters['model'] = query.model;
    }
    const columns = query.groupBy.map((group) => `${GROUP_SQL[group]} AS "${group}"`);
    const sql = `
      SELECT ${[...columns, ''].join(', ')}
        sum(requests) AS requests, sum(errors) AS errors, sum(cached) AS cached,
        sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
        sum(cost_micros) AS cost_micros
      FROM usage WHERE ${conditions.join(' AND ')}
      ${query.groupBy.length === 0 ? '' : `GROUP BY ${query.groupBy.map((group) => GROUP_SQL[group]).join(', ')}`}`;
    const builder = new UsageRowBuilder(query.groupBy);
    for (const row of this.database.prepare(sql).all(parameters) as SumRow[]) {
      // Without grouping, no matching row still gives one row of NULL sums.
      if (row.requests === null) continue;
      const values: GroupValues = {};
      if (row.key !== undefined) values.key = row.key;
      if (row.model !== undefined) values.model = row.model;
      if (row.day !== undefined) values.day = row.day;
      if (row.hour !== undefined) values.hour = `${row.hour}:00:00Z`;
      builder.add(values, {
        requests: row.requests,
        errors: row.errors ?? 0,
        cached: row.cached ?? 0,
        promptTokens: row.prompt_tokens ?? 0,
        completionTokens: row.completion_tokens ?? 0,
        costMicros: row.cost_micros,
      });
    }
    return builder.rows();
  }
}
