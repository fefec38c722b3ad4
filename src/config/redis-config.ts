import type { RedisConfig, RedisNodeAddress } from './config.js';
import type { RedisConfigFile } from './schema.js';

type Environment = Readonly<Record<string, string | undefined>>;

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

/** One address of a cluster seed or a sentinel, with what its URL carried. */
interface ParsedNode extends RedisNodeAddress {
  readonly tls: boolean;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** The database number of a URL's path; null without one. */
  readonly db: number | null;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Only the credentials that are set: the standalone config stays `{ url }` without them. */
function credentials(username: string | undefined, password: string | undefined) {
  return {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** `host:port`, `redis://[user:pass@]host[:port]` or `rediss://…`; null (and a problem) otherwise. */
function parseNode(text: string, defaultPort: number, path: string, problems: string[]): ParsedNode | null {
  const fail = (): null => {
    problems.push(`${path}: must be host:port, redis://host:port or rediss://host:port`);
    return null;
  };
  let host: string;
  let port: number;
  let tls = false;
  let username: string | undefined;
  let password: string | undefined;
  let db: number | null = null;
  if (/^rediss?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return fail();
    }
    tls = url.protocol.toLowerCase() === 'rediss:';
    host = url.hostname;
    port = url.port === '' ? defaultPort : Number(url.port);
    try {
      username = nonEmpty(decodeURIComponent(url.username));
      password = nonEmpty(decodeURIComponent(url.password));
    } catch {
      return fail();
    }
    const dbText = url.pathname.replace(/^\//, '');
    if (dbText !== '') {
      if (!/^\d+$/.test(dbText)) return fail();
      db = Number(dbText);
    }
    if (url.search !== '' || url.hash !== '') return fail();
  } else {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/@[\]]+)(?::(\d+))?$/.exec(text);
    if (match?.[1] === undefined) return fail();
    host = match[1];
    port = match[2] === undefined ? defaultPort : Number(match[2]);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return fail();
  return { host, port, tls, username, password, db };
}

/**
 * The credentials the URLs of a list carry, which must agree (every node of a cluster, every sentinel,
 * is reached with the same ones); URLs without any are fine.
 */
function agreedCredentials(
  nodes: readonly ParsedNode[],
  paths: readonly string[],
  instead: string,
  problems: string[],
): { username: string | undefined; password: string | undefined } {
  let found: { username: string | undefined; password: string | undefined; path: string } | null = null;
  nodes.forEach((node, index) => {
    if (node.username === undefined && node.password === undefined) return;
    if (found === null) {
      found = { username: node.username, password: node.password, path: paths[index] ?? '' };
    } else if (found.username !== node.username || found.password !== node.password) {
      problems.push(`${paths[index]}: its credentials differ from those of ${found.path}; ${instead}`);
    }
  });
  const agreed = found as { username: string | undefined; password: string | undefined } | null;
  return { username: agreed?.username, password: agreed?.password };
}

function sameTls(nodes: readonly ParsedNode[], paths: readonly string[], problems: string[]): boolean {
  const tls = nodes[0]?.tls ?? false;
  nodes.forEach((node, index) => {
    if (node.tls !== tls) {
      problems.push(`${paths[index]}: mixes redis:// and rediss://; use one scheme for every address`);
    }
  });
  return tls;
}

function parseList(
  texts: readonly string[],
  path: string,
  defaultPort: number,
  problems: string[],
): { nodes: ParsedNode[]; paths: string[] } {
  const nodes: ParsedNode[] = [];
  const paths: string[] = [];
  texts.forEach((text, index) => {
    const nodePath = `${path}[${index}]`;
    const node = parseNode(text, defaultPort, nodePath, problems);
    if (node === null) return;
    nodes.push(node);
    paths.push(nodePath);
  });
  return { nodes, paths };
}

/**
 * The `redis` section: exactly one of `url`, `cluster` and `sentinel`. REDIS_URL replaces `redis.url`
 * (an empty REDIS_URL: no redis.url, hence no Redis), and cannot be combined with the other two.
 */
export function redisConfigOf(
  section: RedisConfigFile | undefined,
  env: Environment,
  problems: string[],
): RedisConfig | null {
  const envUrl = env['REDIS_URL'];
  const fileUrl = nonEmpty(section?.url);
  const modes = [
    fileUrl === undefined ? null : 'url',
    section?.cluster === undefined ? null : 'cluster',
    section?.sentinel === undefined ? null : 'sentinel',
  ].filter((mode): mode is string => mode !== null);
  if (modes.length > 1) {
    problems.push(`redis: set exactly one of url, cluster and sentinel (found ${modes.join(' and ')})`);
    return null;
  }
  const username = nonEmpty(section?.username);
  const password = nonEmpty(section?.password);

  if (section?.cluster !== undefined || section?.sentinel !== undefined) {
    const mode = section.cluster === undefined ? 'sentinel' : 'cluster';
    if (envUrl !== undefined && envUrl !== '') {
      problems.push(
        `REDIS_URL: replaces redis.url only and cannot be combined with redis.${mode}; unset one of them`,
      );
      return null;
    }
  }

  if (section?.cluster !== undefined) {
    const { nodes, paths } = parseList(section.cluster, 'redis.cluster', DEFAULT_PORT, problems);
    nodes.forEach((node, index) => {
      if (node.db !== null && node.db !== 0) {
        problems.push(`${paths[index]}: a Redis Cluster has only database 0; drop /${node.db}`);
      }
    });
    const tls = sameTls(nodes, paths, problems);
    const fromUrls = agreedCredentials(
      nodes,
      paths,
      'set redis.username and redis.password once instead',
      problems,
    );
    return {
      cluster: nodes.map((node) => ({ host: node.host, port: node.port })),
      ...credentials(username ?? fromUrls.username, password ?? fromUrls.password),
      tls,
    };
  }

  if (section?.sentinel !== undefined) {
    const sentinel = section.sentinel;
    if (username !== undefined || password !== undefined) {
      problems.push(
        `redis.${password === undefined ? 'username' : 'password'}: with redis.sentinel, the master's credentials go in redis.sentinel.username and redis.sentinel.password (the sentinels' in sentinel_username and sentinel_password)`,
      );
    }
    const { nodes, paths } = parseList(
      sentinel.sentinels,
      'redis.sentinel.sentinels',
      DEFAULT_SENTINEL_PORT,
      problems,
    );
    const sentinelTls = sameTls(nodes, paths, problems);
    const fromUrls = agreedCredentials(
      nodes,
      paths,
      'set redis.sentinel.sentinel_username and sentinel_password once instead',
      problems,
    );
    const sentinelUsername = nonEmpty(sentinel.sentinel_username) ?? fromUrls.username;
    const sentinelPassword = nonEmpty(sentinel.sentinel_password) ?? fromUrls.password;
    return {
      sentinel: {
        sentinels: nodes.map((node) => ({ host: node.host, port: node.port })),
        name: sentinel.name,
        ...credentials(nonEmpty(sentinel.username), nonEmpty(sentinel.password)),
        ...(sentinelUsername === undefined ? {} : { sentinelUsername }),
        ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
        db: sentinel.db ?? 0,
        tls: sentinel.tls ?? false,
        sentinelTls,
      },
    };
  }

  const url = envUrl ?? fileUrl ?? null;
  if (url === null || url === '') {
    if (section !== undefined && section.url === undefined && envUrl === undefined) {
      problems.push('redis: set one of url, cluster and sentinel (or remove the section)');
    }
    return null;
  }
  if (!/^rediss?:\/\/[^\s]+$/.test(url)) {
    problems.push(`${envUrl === undefined ? 'redis.url' : 'REDIS_URL'}: must be a redis:// or rediss:// URL`);
  }
  return { url, ...credentials(username, password) };
}
