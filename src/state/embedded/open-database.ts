import Database from 'better-sqlite3';

/** What a synchronous pause waits on (nothing ever notifies it: Atomics.wait just times out). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** The first and the longest pause between two attempts to switch to WAL, in ms. */
const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 100;

/**
 * Opens the SQLite file at `path` in WAL mode, waiting at most `timeoutMs` for other connections: the
 * busy timeout of every statement, and the switch to WAL itself. SQLite does not call its busy handler
 * for that switch (it needs the file's exclusive lock, and fails at once with SQLITE_BUSY while any
 * other connection reads), so two processes opening a new file at the same moment (two CLI commands,
 * or the CLI and a starting gateway) made one of them fail with "database is locked". The switch is
 * retried here, with pauses from 5 to 100 ms, until `timeoutMs` has passed; then its error is thrown.
 * The pauses block the thread, as the busy timeout does: this runs once, at open.
 */
export function openDatabase(path: string, timeoutMs: number): Database.Database {
  const database = new Database(path, { timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  for (let pauseMs = FIRST_PAUSE_MS; ; pauseMs = Math.min(pauseMs * 2, LONGEST_PAUSE_MS)) {
    try {
      database.pragma('journal_mode = WAL');
      return database;
    } catch (error) {
      const left = deadline - Date.now();
      if (!isBusy(error) || left <= 0) {
        database.close();
        throw error;
      }
      Atomics.wait(PAUSE, 0, 0, Math.min(pauseMs, left));
    }
  }
}

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT, ...). */
function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}
