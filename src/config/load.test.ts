import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256Hex } from '../auth/api-key.js';
import { ConfigError, DEFAULT_BODY_LIMIT_BYTES, loadConfig, validateConfig } from './load.js';

const KEY_HASH = sha256Hex('sk-gw-team-a-example-key');
const ADMIN_HASH = sha256Hex('admin-token-example');

/**
 * The config file from CONTRACT.md, word for word except that its two `<hex>` placeholders are
 * replaced by real SHA-256 digests (a placeholder is, rightly, not a valid hash).
 */
const CONTRACT_EXAMPLE = `
server:
  host: 127.0.0.1
  port: 8080
redis:                          # absent: embedded state (one instance only)
  url: redis://127.0.0.1:6379
backends:
  - name: local                 # unique
    type: openai                # openai (any OpenAI-compatible server) | ollama | demo
    url: http://127.0.0.1:8000/v1
    api_key: \${LOCAL_API_KEY}   # optional; sent upstream, never logged
    timeout_ms: 60000           # optional
models:                         # first match wins; a name may end in * (prefix match) or be "*"
  - name: small                 # what clients send as "model"
    targets:                    # tried in order (fallbacks); each may carry weight: N to share load
      - backend: local
        model: qwen2.5:0.5b     # the upstream's name; defaults to the name the client sent
  - name: "*"
    targets: [{ backend: local }]
auth:
  admin_token_sha256: <hex>     # or GATEWAY_ADMIN_TOKEN in the environment
  keys:                         # static keys; more are created at run time through the admin API or CLI
    - id: team-a
      sha256: <hex SHA-256 of the key>
      models: ["small", "gpt-*"]     # optional allow-list
      rate_limit: { requests: 600/minute, tokens: 200000/minute }
rate_limit:
  default: { requests: 100/minute }  # N/second | N/minute | N/hour | N/day; requests and tokens
  on_store_error: open               # open | closed
cache:
  enabled: true
  ttl_seconds: 3600
  scope: key                          # key: one tenant never sees another's entries | global
`
  .replace('<hex SHA-256 of the key>', KEY_HASH)
  .replace('<hex>', ADMIN_HASH);

/** A small valid document that the mistake tests below change in one place. */
function baseDocument(): Record<string, unknown> {
  return {
    backends: [
      { name: 'demo', type: 'demo' },
      { name: 'vllm', type: 'openai', url: 'http://127.0.0.1:8000/v1' },
    ],
    models: [
      { name: 'demo', targets: [{ backend: 'demo' }] },
      { name: '*', targets: [{ backend: 'vllm' }] },
    ],
  };
}

/** Runs fn, asserts it throws a ConfigError, and returns its problems. */
function problemsOf(fn: () => unknown): readonly string[] {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.ok(caught.problems.length > 0);
  assert.equal(caught.message, caught.problems.join('\n'));
  return caught.problems;
}

/** Asserts that exactly one problem was reported and that it starts with the given text. */
function assertOneProblem(problems: readonly string[], prefix: string): void {
  assert.equal(problems.length, 1, `expected one problem, got: ${problems.join(' | ')}`);
  assert.ok(problems[0]?.startsWith(prefix), `expected '${prefix}...', got '${problems[0]}'`);
}

describe('loadConfig with a YAML file', () => {
  let directory: string;

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-config-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const path = join(directory, name);
    writeFileSync(path, text);
    return path;
  }

  it('accepts the contract example, reading ${LOCAL_API_KEY} from the environment', () => {
    const path = write('contract.yaml', CONTRACT_EXAMPLE);
    const config = loadConfig({ path, env: { LOCAL_API_KEY: 'upstream-secret' } });

    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
    assert.deepEqual(config.redis, { url: 'redis://127.0.0.1:6379' });
    assert.equal(config.backends.length, 1);
    const backend = config.backends[0];
    assert.equal(backend?.name, 'local');
    assert.equal(backend?.type, 'openai');
    assert.equal(backend?.url, 'http://127.0.0.1:8000/v1');
    assert.equal(backend?.apiKey, 'upstream-secret');
    assert.equal(backend?.timeoutMs, 60000);
    assert.deepEqual(
      config.models.map((route) => ({ name: route.name, targets: route.targets })),
      [
        { name: 'small', targets: [{ backend: 'local', model: 'qwen2.5:0.5b', weight: null }] },
        { name: '*', targets: [{ backend: 'local', model: null, weight: null }] },
      ],
    );
    assert.equal(config.auth.adminTokenSha256, ADMIN_HASH);
    assert.equal(config.auth.keys.length, 1);
    const key = config.auth.keys[0];
    assert.equal(key?.id, 'team-a');
    assert.equal(key?.name, 'team-a');
    assert.equal(key?.sha256, KEY_HASH);
    assert.deepEqual(key?.models, ['small', 'gpt-*']);
    assert.deepEqual(key?.rateLimit, { requests: '600/minute', tokens: '200000/minute' });
    assert.deepEqual(config.rateLimit, {
      default: { requests: '100/minute' },
      onStoreError: 'open',
      storeTimeoutMs: 50,
      defaultCompletionTokens: 1024,
    });
    assert.deepEqual(config.cache, {
      enabled: true,
      ttlSeconds: 3600,
      scope: 'key',
      onlyDeterministic: false,
      maxEntryBytes: 1024 * 1024,
      memoryMaxBytes: 64 * 1024 * 1024,
    });
  });

  it('refuses the contract example when LOCAL_API_KEY is not set, naming the field', () => {
    const path = write('contract-no-env.yaml', CONTRACT_EXAMPLE);
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assertOneProblem(problems, 'backends[0].api_key: environment variable LOCAL_API_KEY is not set');
  });

  it('reports a YAML syntax error as a ConfigError naming the file', () => {
    const path = write('syntax.yaml', 'server:\n  host: [127.0.0.1\n  port: 8080\n');
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assert.ok(problems.every((problem) => problem.startsWith(`${path}: `)));
  });

  it('reports a key given twice in one mapping as a ConfigError', () => {
    const path = write('duplicate-key.yaml', 'server:\n  port: 1\n  port: 2\n');
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assert.ok(problems[0]?.startsWith(`${path}: `));
  });

  for (const [name, text] of [
    ['a list', '- backends\n- models\n'],
    ['a scalar', 'just some words\n'],
  ] as const) {
    it(`refuses a document that is ${name}, not a mapping`, () => {
      const path = write(`not-mapping-${name.replace(' ', '-')}.yaml`, text);
      const problems = problemsOf(() => loadConfig({ path, env: {} }));
      assertOneProblem(problems, `${path}: the config file must be a YAML mapping`);
    });
  }

  it('reports a file that cannot be read as a ConfigError', () => {
    const path = join(directory, 'does-not-exist.yaml');
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assertOneProblem(problems, `${path}: cannot read the config file`);
  });

  it('reports mistakes in a file with their field paths', () => {
    const path = write(
      'bad-url.yaml',
      'backends:\n  - name: a\n    type: demo\n  - name: b\n    type: ollama\n    url: localhost:11434\n',
    );
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assertOneProblem(problems, 'backends[1].url: must be an http(s) URL');
  });
});

describe('validateConfig defaults', () => {
  it('applies the documented defaults to an empty document', () => {
    const config = validateConfig({}, {});
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
    assert.equal(config.server.bodyLimitBytes, 10 * 1024 * 1024);
    assert.equal(DEFAULT_BODY_LIMIT_BYTES, 10 * 1024 * 1024);
    assert.equal(config.server.stateDir, '.gateway');
    assert.equal(config.redis, null);
    assert.deepEqual(config.backends, []);
    assert.deepEqual(config.models, []);
    assert.deepEqual(config.auth, {
      enabled: true,
      adminTokenSha256: null,
      viewerTokenSha256: null,
      keys: [],
    });
    assert.deepEqual(config.rateLimit, {
      default: null,
      onStoreError: 'open',
      storeTimeoutMs: 50,
      defaultCompletionTokens: 1024,
    });
    assert.deepEqual(config.cache, {
      enabled: true,
      ttlSeconds: 3600,
      scope: 'key',
      onlyDeterministic: false,
      maxEntryBytes: 1024 * 1024,
      memoryMaxBytes: 64 * 1024 * 1024,
    });
    assert.equal(config.logLevel, 'info');
  });

  it('gives a backend the default timeouts and strips trailing slashes from its url', () => {
    const config = validateConfig(
      { backends: [{ name: 'vllm', type: 'openai', url: 'http://127.0.0.1:8000/v1//', api_key: '' }] },
      {},
    );
    const backend = config.backends[0];
    assert.equal(backend?.url, 'http://127.0.0.1:8000/v1');
    assert.equal(backend?.apiKey, null);
    assert.equal(backend?.timeoutMs, 60_000);
    assert.ok((backend?.connectTimeoutMs ?? 0) > 0);
    assert.ok((backend?.idleTimeoutMs ?? 0) > 0);
  });

  it('leaves drop_unsupported off unless a backend turns it on, and refuses a value that is not a boolean', () => {
    const config = validateConfig(
      {
        backends: [
          { name: 'strict', type: 'ollama', url: 'http://127.0.0.1:11434' },
          { name: 'lenient', type: 'ollama', url: 'http://127.0.0.1:11434', drop_unsupported: true },
        ],
      },
      {},
    );
    assert.deepEqual(
      config.backends.map((backend) => [backend.name, backend.dropUnsupported]),
      [
        ['strict', false],
        ['lenient', true],
      ],
    );
    const problems = problemsOf(() =>
      validateConfig(
        { backends: [{ name: 'o', type: 'ollama', url: 'http://127.0.0.1:11434', drop_unsupported: 'yes' }] },
        {},
      ),
    );
    assertOneProblem(problems, 'backends[0].drop_unsupported: ');
  });

  it('takes the cloud providers of the contract, each with its own fields and its public endpoint by default', () => {
    const config = validateConfig(
      {
        backends: [
          { name: 'claude', type: 'anthropic', api_key: 'sk-ant' },
          { name: 'gem', type: 'gemini', api_key: 'g-key' },
          {
            name: 'vtx',
            type: 'vertex',
            project: 'p',
            location: 'us-central1',
            credentials_file: '/s/sa.json',
          },
          { name: 'aws', type: 'bedrock', region: 'us-east-1' },
          { name: 'az', type: 'azure_openai', url: 'https://res.openai.azure.com', api_key: 'az' },
          { name: 'proxied', type: 'anthropic', api_key: 'sk-ant', url: 'http://127.0.0.1:9/' },
        ],
      },
      {},
    );
    assert.deepEqual(
      config.backends.map((backend) => [backend.name, backend.url]),
      [
        ['claude', 'https://api.anthropic.com'],
        ['gem', 'https://generativelanguage.googleapis.com'],
        ['vtx', 'https://us-central1-aiplatform.googleapis.com'],
        ['aws', 'https://bedrock-runtime.us-east-1.amazonaws.com'],
        ['az', 'https://res.openai.azure.com'],
        ['proxied', 'http://127.0.0.1:9'],
      ],
    );
    const [, , vertex, bedrock, azure] = config.backends;
    assert.deepEqual(
      [vertex?.project, vertex?.location, vertex?.credentialsFile],
      ['p', 'us-central1', '/s/sa.json'],
    );
    assert.equal(bedrock?.region, 'us-east-1');
    assert.equal(azure?.apiVersion, '2024-10-21');
  });

  it('refuses a provider field its type does not take, and a missing one it requires', () => {
    const problems = problemsOf(() =>
      validateConfig(
        {
          backends: [
            { name: 'a', type: 'vertex', location: 'us-central1' },
            { name: 'b', type: 'bedrock' },
            { name: 'c', type: 'anthropic' },
            { name: 'd', type: 'openai', url: 'http://127.0.0.1:8000/v1', region: 'us-east-1' },
            { name: 'e', type: 'azure_openai', api_key: 'k' },
          ],
        },
        {},
      ),
    );
    for (const expected of [
      'backends[0].project: required for a backend of type vertex',
      'backends[1].region: required for a backend of type bedrock',
      'backends[2].api_key: required for a backend of type anthropic',
      'backends[3].region: a backend of type openai takes no region',
      'backends[4].url: required for a backend of type azure_openai',
    ])
      assert.ok(
        problems.some((problem) => problem.startsWith(expected)),
        `${expected} in ${problems.join('; ')}`,
      );
  });

  it('lower-cases static key hashes', () => {
    const config = validateConfig({ auth: { keys: [{ id: 'k', sha256: KEY_HASH.toUpperCase() }] } }, {});
    assert.equal(config.auth.keys[0]?.sha256, KEY_HASH);
  });
});

describe('validateConfig environment', () => {
  it('replaces ${NAME} with the variable, also inside a longer string', () => {
    const config = validateConfig(
      {
        backends: [
          { name: 'vllm', type: 'openai', url: 'http://${UPSTREAM_HOST}:8000/v1', api_key: '${KEY}' },
        ],
      },
      { UPSTREAM_HOST: '10.0.0.5', KEY: 'secret' },
    );
    assert.equal(config.backends[0]?.url, 'http://10.0.0.5:8000/v1');
    assert.equal(config.backends[0]?.apiKey, 'secret');
  });

  it('uses the default of ${NAME:-default} when NAME is unset or empty, and the variable when set', () => {
    const document = { backends: [{ name: 'o', type: 'ollama', url: '${OLLAMA:-http://127.0.0.1:11434}' }] };
    assert.equal(validateConfig(document, {}).backends[0]?.url, 'http://127.0.0.1:11434');
    assert.equal(validateConfig(document, { OLLAMA: '' }).backends[0]?.url, 'http://127.0.0.1:11434');
    assert.equal(
      validateConfig(document, { OLLAMA: 'http://gpu:11434' }).backends[0]?.url,
      'http://gpu:11434',
    );
  });

  it('accepts an empty default, ${NAME:-}, for an optional value', () => {
    const config = validateConfig(
      { backends: [{ name: 'vllm', type: 'openai', url: 'http://127.0.0.1:8000', api_key: '${KEY:-}' }] },
      {},
    );
    assert.equal(config.backends[0]?.apiKey, null);
  });

  it('names the field path of every missing variable', () => {
    const problems = problemsOf(() =>
      validateConfig(
        {
          backends: [{ name: 'vllm', type: 'openai', url: '${URL_A}', api_key: '${KEY_A}' }],
          redis: { url: '${REDIS_A}' },
        },
        {},
      ),
    );
    assert.equal(problems.length, 3);
    assert.ok(problems[0]?.startsWith('backends[0].url: environment variable URL_A is not set'));
    assert.ok(problems[1]?.startsWith('backends[0].api_key: environment variable KEY_A is not set'));
    assert.ok(problems[2]?.startsWith('redis.url: environment variable REDIS_A is not set'));
  });

  it('lets HOST, PORT, REDIS_URL and LOG_LEVEL override the file', () => {
    const document = {
      server: { host: '127.0.0.1', port: 8080 },
      redis: { url: 'redis://file:6379' },
      logging: { level: 'warn' },
    };
    const fromFile = validateConfig(document, {});
    assert.equal(fromFile.server.host, '127.0.0.1');
    assert.equal(fromFile.server.port, 8080);
    assert.deepEqual(fromFile.redis, { url: 'redis://file:6379' });
    assert.equal(fromFile.logLevel, 'warn');

    const overridden = validateConfig(document, {
      HOST: '0.0.0.0',
      PORT: '9090',
      REDIS_URL: 'redis://env:6380/2',
      LOG_LEVEL: 'debug',
    });
    assert.equal(overridden.server.host, '0.0.0.0');
    assert.equal(overridden.server.port, 9090);
    assert.deepEqual(overridden.redis, { url: 'redis://env:6380/2' });
    assert.equal(overridden.logLevel, 'debug');
  });

  it('treats an empty override as absent, and REDIS_URL="" as no redis', () => {
    const config = validateConfig(
      { server: { host: '::1', port: 7000 }, redis: { url: 'redis://file:6379' } },
      { HOST: '', PORT: '', REDIS_URL: '' },
    );
    assert.equal(config.server.host, '::1');
    assert.equal(config.server.port, 7000);
    assert.equal(config.redis, null);
  });

  it('refuses PORT=abc, naming PORT', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({}, { PORT: 'abc' })),
      'PORT: must be an integer from 0 to 65535',
    );
    assertOneProblem(
      problemsOf(() => validateConfig({}, { PORT: '65536' })),
      'PORT: must be an integer from 0 to 65535',
    );
  });

  it('refuses a REDIS_URL or LOG_LEVEL that is not one, naming the variable', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({}, { REDIS_URL: 'http://127.0.0.1:6379' })),
      'REDIS_URL: must be a redis:// or rediss:// URL',
    );
    assertOneProblem(
      problemsOf(() => validateConfig({ redis: { url: 'localhost:6379' } }, {})),
      'redis.url: must be a redis:// or rediss:// URL',
    );
    assertOneProblem(
      problemsOf(() => validateConfig({}, { LOG_LEVEL: 'loud' })),
      'LOG_LEVEL: must be one of',
    );
  });
});

describe('validateConfig mistakes', () => {
  it('refuses an unknown field at the top level', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ ...baseDocument(), bakends: [] }, {})),
      'bakends: unknown field',
    );
  });

  it('refuses an unknown field nested in a list item', () => {
    const document = baseDocument();
    document['backends'] = [{ name: 'vllm', type: 'openai', urll: 'http://127.0.0.1:8000/v1' }];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      'backends[0].urll: unknown field',
    );
  });

  it('refuses an unknown field in a nested mapping', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ cache: { enabled: true, ttl: 60 } }, {})),
      'cache.ttl: unknown field',
    );
  });

  it('refuses a backend url that is not http(s)', () => {
    const document = baseDocument();
    document['backends'] = [
      { name: 'demo', type: 'demo' },
      { name: 'vllm', type: 'openai', url: 'ftp://127.0.0.1:8000/v1' },
    ];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      'backends[1].url: must be an http(s) URL',
    );
  });

  it('refuses a backend url with credentials in it', () => {
    const document = baseDocument();
    document['backends'] = [
      { name: 'demo', type: 'demo' },
      { name: 'vllm', type: 'openai', url: 'http://user:secret@127.0.0.1:8000/v1' },
    ];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      'backends[1].url: must be an http(s) URL',
    );
  });

  it('requires a url for openai and ollama backends and refuses one for demo', () => {
    const problems = problemsOf(() =>
      validateConfig(
        {
          backends: [
            { name: 'o', type: 'ollama' },
            { name: 'd', type: 'demo', url: 'http://127.0.0.1:1' },
          ],
        },
        {},
      ),
    );
    assert.equal(problems.length, 2);
    assert.ok(problems[0]?.startsWith('backends[0].url: required'));
    assert.ok(problems[1]?.startsWith('backends[1].url: a demo backend'));
  });

  it('refuses an unknown backend type, listing the allowed types', () => {
    const document = baseDocument();
    document['backends'] = [{ name: 'vllm', type: 'vllm', url: 'http://127.0.0.1:8000/v1' }];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      'backends[0].type: must be one of: openai, ollama, demo',
    );
  });

  it('refuses two backends with the same name', () => {
    const document = baseDocument();
    document['backends'] = [
      { name: 'same', type: 'demo' },
      { name: 'same', type: 'openai', url: 'http://127.0.0.1:8000/v1' },
    ];
    document['models'] = [{ name: '*', targets: [{ backend: 'same' }] }];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      "backends[1].name: 'same' is used by another backend",
    );
  });

  it('refuses a target naming an unknown backend, listing the known ones', () => {
    const document = baseDocument();
    document['models'] = [{ name: 'small', targets: [{ backend: 'demo' }, { backend: 'vlm' }] }];
    const problems = problemsOf(() => validateConfig(document, {}));
    assertOneProblem(problems, "models[0].targets[1].backend: no backend named 'vlm'");
    assert.match(problems[0] ?? '', /known: demo, vllm/);
  });

  it("refuses '*' anywhere but at the end of a model name or key allow-list pattern", () => {
    const document = baseDocument();
    document['models'] = [{ name: 'gpt-*-mini', targets: [{ backend: 'vllm' }] }];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      "models[0].name: '*' may only end a model name",
    );

    const keyDocument = baseDocument();
    keyDocument['auth'] = { keys: [{ id: 'k', sha256: KEY_HASH, models: ['demo', '*-mini'] }] };
    assertOneProblem(
      problemsOf(() => validateConfig(keyDocument, {})),
      "auth.keys[0].models[1]: '*' may only end a model name",
    );
  });

  it('accepts a prefix pattern and a lone star', () => {
    const document = baseDocument();
    document['models'] = [
      { name: 'gpt-*', targets: [{ backend: 'vllm' }] },
      { name: '*', targets: [{ backend: 'demo' }] },
    ];
    assert.deepEqual(
      validateConfig(document, {}).models.map((route) => route.name),
      ['gpt-*', '*'],
    );
  });

  it('refuses a rate that is not N/second|minute|hour|day, wherever it appears', () => {
    const document = baseDocument();
    document['rate_limit'] = { default: { requests: '100/fortnight' } };
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      "rate_limit.default.requests: '100/fortnight' is not a rate",
    );

    const inList = baseDocument();
    inList['auth'] = {
      keys: [{ id: 'k', sha256: KEY_HASH, rate_limit: { tokens: ['1000/minute', '0/day'] } }],
    };
    assertOneProblem(
      problemsOf(() => validateConfig(inList, {})),
      "auth.keys[0].rate_limit.tokens[1]: '0/day' is not a rate",
    );

    const onRoute = baseDocument();
    onRoute['models'] = [
      { name: 'demo', targets: [{ backend: 'demo' }], rate_limit: { requests: 'many/minute' } },
    ];
    assertOneProblem(
      problemsOf(() => validateConfig(onRoute, {})),
      "models[0].rate_limit.requests: 'many/minute' is not a rate",
    );
  });

  it('refuses a static key sha256 that is not 64 hex characters', () => {
    const document = baseDocument();
    document['auth'] = {
      keys: [
        { id: 'short', sha256: 'abc123' },
        { id: 'not-hex', sha256: 'z'.repeat(64) },
      ],
    };
    const problems = problemsOf(() => validateConfig(document, {}));
    assert.equal(problems.length, 2);
    assert.ok(problems[0]?.startsWith('auth.keys[0].sha256: must be 64 hex characters'));
    assert.ok(problems[1]?.startsWith('auth.keys[1].sha256: must be 64 hex characters'));
  });

  it('refuses an admin token hash that is not 64 hex characters', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ auth: { admin_token_sha256: 'secret' } }, {})),
      'auth.admin_token_sha256: must be 64 hex characters',
    );
  });

  it('refuses duplicate key ids and the same key configured twice', () => {
    const problems = problemsOf(() =>
      validateConfig(
        {
          auth: {
            keys: [
              { id: 'a', sha256: KEY_HASH },
              { id: 'a', sha256: ADMIN_HASH },
              { id: 'c', sha256: KEY_HASH.toUpperCase() },
            ],
          },
        },
        {},
      ),
    );
    assert.deepEqual(
      problems.map((problem) => problem.split(':', 1)[0]),
      ['auth.keys[1].id', 'auth.keys[2].sha256'],
    );
  });

  it('reports structural mistakes with the expected type', () => {
    const problems = problemsOf(() =>
      validateConfig({ server: { port: 'eighty' }, cache: { scope: 'tenant' } }, {}),
    );
    assert.deepEqual(problems, ['server.port: expected integer', 'cache.scope: must be one of: key, global']);
  });

  it('reports several mistakes at once, each with its field path', () => {
    const problems = problemsOf(() =>
      validateConfig(
        {
          backends: [
            { name: 'demo', type: 'demo' },
            { name: 'vllm', type: 'openai', url: 'not a url' },
            { name: 'demo', type: 'demo' },
          ],
          models: [
            { name: 'a*b', targets: [{ backend: 'demo' }] },
            { name: 'x', targets: [{ backend: 'missing' }] },
          ],
          auth: { keys: [{ id: 'k', sha256: 'nothex' }] },
          rate_limit: { default: { requests: '100/fortnight' } },
        },
        { PORT: 'abc' },
      ),
    );
    const paths = problems.map((problem) => problem.split(':', 1)[0]);
    for (const path of [
      'backends[1].url',
      'backends[2].name',
      'models[0].name',
      'models[1].targets[0].backend',
      'auth.keys[0].sha256',
      'rate_limit.default.requests',
      'PORT',
    ]) {
      assert.ok(paths.includes(path), `expected a problem at ${path}; got ${problems.join(' | ')}`);
    }
    assert.equal(problems.length, 7);
  });

  it('reports several structural mistakes at once', () => {
    const problems = problemsOf(() =>
      validateConfig(
        { servr: {}, backends: [{ name: 'a', type: 'tgi', url: 'http://x' }], cache: { ttl_seconds: 0 } },
        {},
      ),
    );
    const paths = problems.map((problem) => problem.split(':', 1)[0]);
    assert.deepEqual(new Set(paths), new Set(['servr', 'backends[0].type', 'cache.ttl_seconds']));
  });
});

describe('embedded defaults (no config file)', () => {
  it('serves the demo model in process and sends every other name to Ollama', () => {
    const config = loadConfig({ path: null, env: {} });
    assert.deepEqual(
      config.backends.map((backend) => ({ name: backend.name, type: backend.type, url: backend.url })),
      [
        { name: 'demo', type: 'demo', url: '' },
        { name: 'ollama', type: 'ollama', url: 'http://127.0.0.1:11434' },
      ],
    );
    assert.deepEqual(
      config.models.map((route) => ({
        name: route.name,
        backends: route.targets.map((target) => target.backend),
      })),
      [
        { name: 'demo', backends: ['demo'] },
        { name: '*', backends: ['ollama'] },
      ],
    );
    assert.equal(config.server.host, '127.0.0.1');
    assert.equal(config.server.port, 8080);
    assert.equal(config.server.stateDir, '.gateway');
    assert.equal(config.redis, null);
    assert.deepEqual(config.auth.keys, []);
  });

  it('honours OLLAMA_URL and the other environment overrides', () => {
    const config = loadConfig({
      path: null,
      env: { OLLAMA_URL: 'http://gpu-box:11434/', PORT: '9000', HOST: '0.0.0.0' },
    });
    assert.equal(config.backends.find((backend) => backend.name === 'ollama')?.url, 'http://gpu-box:11434');
    assert.equal(config.server.port, 9000);
    assert.equal(config.server.host, '0.0.0.0');
  });

  it('refuses an OLLAMA_URL that is not http(s)', () => {
    assertOneProblem(
      problemsOf(() => loadConfig({ path: null, env: { OLLAMA_URL: 'gpu-box:11434' } })),
      'backends[1].url: must be an http(s) URL',
    );
  });
});

describe('validateConfig routing', () => {
  it('applies the documented routing defaults', () => {
    assert.deepEqual(validateConfig({}, {}).routing, {
      strategy: 'weighted',
      maxAttempts: 3,
      deadlineMs: 120_000,
      backoffBaseMs: 100,
      backoffMaxMs: 2_000,
      retryBudget: { ratio: 0.2, windowSeconds: 10, minRetries: 3 },
      circuitBreaker: {
        enabled: true,
        failures: 5,
        errorRatio: null,
        minRequests: 20,
        windowSeconds: 30,
        cooldownMs: 30_000,
      },
      discovery: { enabled: true, ttlSeconds: 30, timeoutMs: 1_000 },
    });
  });

  it('takes every routing field from the file', () => {
    const routing = {
      strategy: 'least_outstanding',
      max_attempts: 5,
      deadline_ms: 30_000,
      backoff_base_ms: 50,
      backoff_max_ms: 500,
      retry_budget: { ratio: 0.5, window_seconds: 60, min_retries: 0 },
      circuit_breaker: {
        enabled: false,
        failures: 2,
        error_ratio: 0.25,
        min_requests: 8,
        window_seconds: 15,
        cooldown_ms: 5_000,
      },
      discovery: { enabled: false, ttl_seconds: 120, timeout_ms: 250 },
    };
    assert.deepEqual(validateConfig({ routing }, {}).routing, {
      strategy: 'least_outstanding',
      maxAttempts: 5,
      deadlineMs: 30_000,
      backoffBaseMs: 50,
      backoffMaxMs: 500,
      retryBudget: { ratio: 0.5, windowSeconds: 60, minRetries: 0 },
      circuitBreaker: {
        enabled: false,
        failures: 2,
        errorRatio: 0.25,
        minRequests: 8,
        windowSeconds: 15,
        cooldownMs: 5_000,
      },
      discovery: { enabled: false, ttlSeconds: 120, timeoutMs: 250 },
    });
  });

  it('keeps the defaults of the fields a partial routing section leaves out', () => {
    const routing = validateConfig(
      { routing: { max_attempts: 1, circuit_breaker: { failures: 10 }, retry_budget: { ratio: 1 } } },
      {},
    ).routing;
    assert.equal(routing.maxAttempts, 1);
    assert.equal(routing.strategy, 'weighted');
    assert.deepEqual(routing.circuitBreaker, {
      enabled: true,
      failures: 10,
      errorRatio: null,
      minRequests: 20,
      windowSeconds: 30,
      cooldownMs: 30_000,
    });
    assert.deepEqual(routing.retryBudget, { ratio: 1, windowSeconds: 10, minRetries: 3 });
  });

  it('refuses an unknown field in routing and its sections, naming the path', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ routing: { bogus: 1 } }, {})),
      'routing.bogus: unknown field',
    );
    assertOneProblem(
      problemsOf(() => validateConfig({ routing: { circuit_breaker: { threshold: 3 } } }, {})),
      'routing.circuit_breaker.threshold: unknown field',
    );
  });

  it('refuses an unknown strategy, listing the known ones', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ routing: { strategy: 'round_robin' } }, {})),
      'routing.strategy: must be one of: weighted, least_outstanding',
    );
  });

  it('refuses out-of-range routing values', () => {
    for (const [routing, path] of [
      [{ max_attempts: 0 }, 'routing.max_attempts'],
      [{ max_attempts: 11 }, 'routing.max_attempts'],
      [{ deadline_ms: 0 }, 'routing.deadline_ms'],
      [{ retry_budget: { ratio: -0.1 } }, 'routing.retry_budget.ratio'],
      [{ circuit_breaker: { error_ratio: 0 } }, 'routing.circuit_breaker.error_ratio'],
      [{ circuit_breaker: { error_ratio: 1.5 } }, 'routing.circuit_breaker.error_ratio'],
    ] as const) {
      const problems = problemsOf(() => validateConfig({ routing }, {}));
      assert.deepEqual(
        problems.map((problem) => problem.split(':', 1)[0]),
        [path],
        `${JSON.stringify(routing)}: ${problems.join(' | ')}`,
      );
    }
  });

  it('refuses backoff_max_ms below backoff_base_ms, and accepts them equal', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ routing: { backoff_base_ms: 500, backoff_max_ms: 499 } }, {})),
      'routing.backoff_max_ms: must be at least backoff_base_ms (500)',
    );
    const routing = validateConfig({ routing: { backoff_base_ms: 500, backoff_max_ms: 500 } }, {}).routing;
    assert.equal(routing.backoffMaxMs, 500);
  });

  it('raises the default backoff_max_ms to a backoff_base_ms above it', () => {
    const routing = validateConfig({ routing: { backoff_base_ms: 3000 } }, {}).routing;
    assert.equal(routing.backoffMaxMs, 3000);
  });

  it('refuses a second route with the same name (it could never be reached)', () => {
    assertOneProblem(
      problemsOf(() =>
        validateConfig(
          {
            ...baseDocument(),
            models: [
              { name: 'demo', targets: [{ backend: 'demo' }] },
              { name: 'demo', targets: [{ backend: 'vllm' }] },
            ],
          },
          {},
        ),
      ),
      "models[1].name: 'demo' is already routed by an earlier entry (first match wins)",
    );
  });

  it('gives a route the global strategy unless it sets its own', () => {
    const config = validateConfig(
      {
        ...baseDocument(),
        routing: { strategy: 'least_outstanding' },
        models: [
          { name: 'demo', targets: [{ backend: 'demo' }], strategy: 'weighted' },
          { name: '*', targets: [{ backend: 'vllm' }] },
        ],
      },
      {},
    );
    assert.deepEqual(
      config.models.map((route) => route.strategy),
      ['weighted', 'least_outstanding'],
    );
    assert.equal(validateConfig(baseDocument(), {}).models[0]?.strategy, 'weighted');
  });

  it('keeps target weights, and null for a target without one', () => {
    const config = validateConfig(
      {
        ...baseDocument(),
        models: [
          {
            name: 'm',
            targets: [{ backend: 'vllm', model: 'a', weight: 2.5 }, { backend: 'demo' }],
          },
        ],
      },
      {},
    );
    assert.deepEqual(config.models[0]?.targets, [
      { backend: 'vllm', model: 'a', weight: 2.5 },
      { backend: 'demo', model: null, weight: null },
    ]);
  });

  it('refuses a weight that is not positive', () => {
    const document = baseDocument();
    document['models'] = [{ name: 'm', targets: [{ backend: 'vllm', weight: 0 }] }];
    assertOneProblem(
      problemsOf(() => validateConfig(document, {})),
      'models[0].targets[0].weight: ',
    );
  });
});

describe('validateConfig health checks', () => {
  function backendsWith(checks: Record<string, unknown>[]): Record<string, unknown> {
    return {
      backends: [
        { name: 'vllm', type: 'openai', url: 'http://127.0.0.1:8000/v1', health_check: checks[0] },
        { name: 'ollama', type: 'ollama', url: 'http://127.0.0.1:11434', health_check: checks[1] },
      ],
    };
  }

  it('has no health check unless one is configured', () => {
    const config = validateConfig(baseDocument(), {});
    assert.deepEqual(
      config.backends.map((backend) => backend.healthCheck),
      [null, null],
    );
  });

  it('fills in the defaults, with a path per backend type', () => {
    const config = validateConfig(backendsWith([{}, {}]), {});
    assert.deepEqual(
      config.backends.map((backend) => backend.healthCheck),
      [
        { path: '/models', intervalMs: 10_000, timeoutMs: 2_000, unhealthyAfter: 2, healthyAfter: 1 },
        { path: '/api/tags', intervalMs: 10_000, timeoutMs: 2_000, unhealthyAfter: 2, healthyAfter: 1 },
      ],
    );
  });

  it('takes every field from the file, and caps the default timeout at the interval', () => {
    const config = validateConfig(
      backendsWith([
        { path: '/health', interval_ms: 3_000, timeout_ms: 3_000, unhealthy_after: 4, healthy_after: 3 },
        { interval_ms: 500 },
      ]),
      {},
    );
    assert.deepEqual(
      config.backends.map((backend) => backend.healthCheck),
      [
        { path: '/health', intervalMs: 3_000, timeoutMs: 3_000, unhealthyAfter: 4, healthyAfter: 3 },
        { path: '/api/tags', intervalMs: 500, timeoutMs: 500, unhealthyAfter: 2, healthyAfter: 1 },
      ],
    );
  });

  it('refuses a health check on a demo backend', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ backends: [{ name: 'demo', type: 'demo', health_check: {} }] }, {})),
      'backends[0].health_check: a demo backend runs in process and has nothing to check',
    );
  });

  it('refuses timeout_ms above interval_ms', () => {
    assertOneProblem(
      problemsOf(() => validateConfig(backendsWith([{}, { interval_ms: 1_000, timeout_ms: 1_001 }]), {})),
      'backends[1].health_check.timeout_ms: must not exceed interval_ms (1000)',
    );
  });

  it('refuses a path that does not start with /, and an unknown field', () => {
    const problems = problemsOf(() =>
      validateConfig(backendsWith([{ path: 'health' }, { every: 1000 }]), {}),
    );
    assert.deepEqual(
      problems.map((problem) => problem.split(':', 1)[0]),
      ['backends[0].health_check.path', 'backends[1].health_check.every'],
    );
  });
});

describe('keys that reach a prototype (issue 16, finding 10)', () => {
  let directory: string;
  const write = (name: string, text: string): string => {
    const path = join(directory, name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-config-proto-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('refuses auth: {__proto__: {enabled: false}} instead of turning auth off', () => {
    const path = write('proto.yaml', 'auth:\n  __proto__:\n    enabled: false\n');
    assertOneProblem(
      problemsOf(() => loadConfig({ path, env: {} })),
      `${path}: auth.__proto__: the key '__proto__' is not allowed`,
    );
  });

  it('refuses __proto__, constructor and prototype anywhere in the file, naming each path', () => {
    const path = write(
      'everywhere.yaml',
      [
        '__proto__: {}',
        'backends:',
        '  - name: a',
        '    type: demo',
        '    constructor: {prototype: 1}',
        'models:',
        '  - name: m',
        '    targets: [{backend: a, prototype: x}]',
        '',
      ].join('\n'),
    );
    const problems = problemsOf(() => loadConfig({ path, env: {} }));
    assert.deepEqual(
      problems.map((problem) => problem.slice(`${path}: `.length).split(':', 1)[0]),
      ['__proto__', 'backends[0].constructor', 'models[0].targets[0].prototype'],
    );
  });

  it('refuses them in a document given as data (JSON keeps __proto__ as an own key)', () => {
    const raw = JSON.parse('{"auth": {"__proto__": {"enabled": false}}}') as unknown;
    assertOneProblem(
      problemsOf(() => validateConfig(raw, {})),
      "auth.__proto__: the key '__proto__' is not allowed",
    );
  });

  it('keeps a field named like a prototype key inside a value: only keys are refused', () => {
    const config = validateConfig(
      { auth: { keys: [{ id: 'constructor-team', sha256: KEY_HASH, metadata: { role: '__proto__' } }] } },
      {},
    );
    assert.equal(config.auth.enabled, true);
    assert.equal(config.auth.keys[0]?.metadata['role'], '__proto__');
  });
});

describe('YAML syntax errors never quote the file (issue 16, finding 11)', () => {
  let directory: string;
  const SECRET = 'sk-live-inline-secret-0123456789';
  const write = (name: string, text: string): string => {
    const path = join(directory, name);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'gw-config-syntax-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  for (const [name, line] of [
    ['an unterminated flow sequence', `    api_key: [${SECRET}`],
    ['a mapping inside a plain value', `    api_key: ${SECRET}: x`],
    ['an unterminated quote', `    api_key: "${SECRET}`],
    ['a bad escape', `    api_key: "${SECRET}\\q"`],
    ['a tab as indentation', `\tapi_key: ${SECRET}`],
  ] as const) {
    it(`reports ${name} by line and column, without the line's text`, () => {
      const path = write(
        `${name.replaceAll(' ', '-')}.yaml`,
        ['backends:', '  - name: upstream', '    type: openai', line, '    url: http://127.0.0.1:1', ''].join(
          '\n',
        ),
      );
      let caught: unknown;
      try {
        loadConfig({ path, env: {} });
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
      assert.ok(!caught.message.includes(SECRET), caught.message);
      assert.ok(!caught.message.includes(SECRET.slice(0, 12)), caught.message);
      assert.match(caught.message, new RegExp(`^${path}: line \\d+, column \\d+: `, 'm'));
      assert.ok(caught.problems.every((problem) => problem.startsWith(`${path}: `)));
    });
  }
});

describe('secrets to keep out of upstream text (issue 16, finding 6)', () => {
  it("lists every backend's api_key and each value taken from the environment, longest first", () => {
    const config = validateConfig(
      {
        backends: [
          { name: 'a', type: 'openai', url: 'http://127.0.0.1:1', api_key: 'sk-inline-key-aaaa' },
          { name: 'b', type: 'openai', url: 'http://127.0.0.1:2', api_key: '${B_KEY}' },
        ],
        redis: { url: 'redis://127.0.0.1:6379', password: '${REDIS_PASSWORD}' },
      },
      { B_KEY: 'sk-from-the-environment-bbbb', REDIS_PASSWORD: 'redis-password-cc', SHORT: 'x' },
    );
    for (const backend of config.backends)
      assert.deepEqual(backend.secrets, [
        'sk-from-the-environment-bbbb',
        'sk-inline-key-aaaa',
        'redis-password-cc',
      ]);
  });

  it('leaves out short values from the environment ("8080" is no secret and would garble messages)', () => {
    const config = validateConfig(
      { backends: [{ name: 'a', type: 'openai', url: 'http://${HOST_NAME}:1', api_key: '${KEY}' }] },
      { HOST_NAME: 'h', KEY: 'sk-long-enough-key' },
    );
    assert.deepEqual(config.backends[0]?.secrets, ['sk-long-enough-key']);
  });
});

describe('metrics.token (issue 16, finding 13)', () => {
  const TOKEN = 'metrics-token-of-at-least-16';

  it('takes the token itself, from the environment through ${NAME}, and keeps its SHA-256', () => {
    const config = validateConfig({ metrics: { token: '${SCRAPE_TOKEN}' } }, { SCRAPE_TOKEN: TOKEN });
    assert.equal(config.metrics.tokenSha256, sha256Hex(TOKEN));
  });

  it('treats an empty token (${NAME:-} unset) as none', () => {
    assert.equal(validateConfig({ metrics: { token: '${SCRAPE_TOKEN:-}' } }, {}).metrics.tokenSha256, null);
  });

  it('refuses a short token, and token together with token_sha256', () => {
    assertOneProblem(
      problemsOf(() => validateConfig({ metrics: { token: 'short' } }, {})),
      'metrics.token: must be at least 16 characters',
    );
    assertOneProblem(
      problemsOf(() => validateConfig({ metrics: { token: TOKEN, token_sha256: sha256Hex(TOKEN) } }, {})),
      'metrics.token: set token or token_sha256, not both',
    );
  });
});

describe('usage.prices', () => {
  it('reads cache prices, a backend and list_prices', () => {
    const config = validateConfig(
      {
        ...baseDocument(),
        usage: {
          list_prices: false,
          prices: [
            {
              model: 'qwen*',
              backend: 'vllm',
              prompt_per_million: 1,
              completion_per_million: 2,
              cached_prompt_per_million: 0.1,
              cache_write_per_million: 1.25,
            },
          ],
        },
      },
      {},
    );
    assert.equal(config.usage.listPrices, false);
    assert.deepEqual(config.usage.prices, [
      {
        model: 'qwen*',
        backend: 'vllm',
        promptPerMillion: 1,
        completionPerMillion: 2,
        cachedPromptPerMillion: 0.1,
        cacheWritePerMillion: 1.25,
      },
    ]);
    assert.equal(validateConfig(baseDocument(), {}).usage.listPrices, true);
  });

  it('refuses a price for a backend that does not exist, naming the known ones', () => {
    assertOneProblem(
      problemsOf(() =>
        validateConfig(
          {
            ...baseDocument(),
            usage: {
              prices: [{ model: '*', backend: 'gpu', prompt_per_million: 0, completion_per_million: 0 }],
            },
          },
          {},
        ),
      ),
      "usage.prices[0].backend: no backend named 'gpu' (known: demo, vllm)",
    );
  });
});

describe('teams, budgets, concurrency and alerts (issue 20)', () => {
  const hash = sha256Hex('sk-gw-ci-bot-example-key');
  const document = (extra: Record<string, unknown> = {}, key: Record<string, unknown> = {}) => ({
    ...baseDocument(),
    teams: [
      {
        id: 'research',
        budgets: [{ usd: 200, window: 'month' }],
        max_concurrency: 8,
        rate_limit: { requests: '600/minute' },
      },
    ],
    auth: {
      keys: [
        {
          id: 'ci-bot',
          sha256: hash,
          team: 'research',
          priority: 'batch',
          max_concurrency: 2,
          budgets: [
            { usd: 5, window: 'day' },
            { tokens: 2_000_000, window: 'month', soft: true },
          ],
          ...key,
        },
      ],
    },
    ...extra,
  });

  it("reads the contract's example with its defaults", () => {
    const config = validateConfig(document(), {});
    const key = config.auth.keys[0]!;
    assert.equal(key.team, 'research');
    assert.equal(key.priority, 10);
    assert.equal(key.maxConcurrency, 2);
    assert.deepEqual(key.budgets, [
      { unit: 'usd', limit: 5, window: 'day', soft: false },
      { unit: 'tokens', limit: 2_000_000, window: 'month', soft: true },
    ]);
    assert.deepEqual(config.teams[0], {
      id: 'research',
      name: 'research',
      models: null,
      rateLimit: { requests: '600/minute' },
      budgets: [{ unit: 'usd', limit: 200, window: 'month', soft: false }],
      maxConcurrency: 8,
      metadata: {},
    });
    assert.deepEqual(config.budget, { timezone: 'UTC', unpriced: 'allow' });
    assert.deepEqual(config.concurrency, { queueTimeoutMs: 30_000, maxQueue: 10_000, leaseMs: 15_000 });
    assert.deepEqual(config.alerts, { webhookUrl: null, secret: null, thresholds: [0.5, 0.8, 1] });
    assert.equal(validateConfig(document({}, { priority: undefined }), {}).auth.keys[0]!.priority, 100);
  });

  it('names what is wrong: both usd and tokens, an unknown team, a bad time zone or webhook URL', () => {
    assertOneProblem(
      problemsOf(() => validateConfig(document({}, { budgets: [{ usd: 1, tokens: 5, window: 'day' }] }), {})),
      'auth.keys[0].budgets[0]: give exactly one of usd and tokens',
    );
    assertOneProblem(
      problemsOf(() => validateConfig(document({}, { team: 'nobody' }), {})),
      "auth.keys[0].team: no team named 'nobody' in teams (known: research)",
    );
    assertOneProblem(
      problemsOf(() => validateConfig(document({ budget: { timezone: 'Mars/Olympus' } }), {})),
      "budget.timezone: 'Mars/Olympus' is not an IANA time zone",
    );
    assertOneProblem(
      problemsOf(() => validateConfig(document({ alerts: { webhook_url: 'ftp://hooks.example' } }), {})),
      'alerts.webhook_url: must be an http(s) URL',
    );
  });
});
