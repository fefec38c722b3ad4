/**
 * Tests that need a program the machine may lack (redis-server, locust): `npm test` must pass on a fresh
 * machine, so such a test is skipped with a notice naming the Debian package that installs the program;
 * under `CI=true`, where .ci/run installs every one, a missing program fails the run instead (issue 17).
 *
 *     describe('the cache on Redis', { skip: requireTool('redis-server', 'redis-server') }, () => { … });
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Whether `command` is an executable path, or the name of an executable file in a PATH directory. */
export function isInstalled(command: string, path = process.env['PATH'] ?? ''): boolean {
  const candidates = isAbsolute(command)
    ? [command]
    : path
        .split(delimiter)
        .filter((directory) => directory !== '')
        .map((directory) => join(directory, command));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const noticed = new Set<string>();

/**
 * `false` when `command` is installed: run the tests. Otherwise the skip reason,
 * `redis-server is not installed: apt-get install redis-server`, also written once to stderr as a
 * notice. With `CI=true` in the environment a missing command throws that reason instead.
 */
export function requireTool(
  command: string,
  debianPackage: string,
  environment: NodeJS.ProcessEnv = process.env,
): string | false {
  if (isInstalled(command, environment['PATH'] ?? '')) return false;
  const reason = `${command} is not installed: apt-get install ${debianPackage}`;
  if (environment['CI'] === 'true') {
    throw new Error(`${reason} (CI=true: a missing tool fails the run rather than skip its tests)`);
  }
  if (!noticed.has(reason)) {
    noticed.add(reason);
    process.stderr.write(`notice: ${reason}; skipping the tests that need it\n`);
  }
  return reason;
}
