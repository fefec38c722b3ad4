/**
 * The configuration reference (docs/configuration.md) and the routing example (docs/routing.md) are
 * configs people copy: beyond being valid (test/docs/links.test.ts checks every example), the
 * reference must state the real defaults and the routing example the tiers its text describes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { fillPlaceholders, yamlBlocks } from './markdown.js';

const read = (page: string): string => readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8');

describe('the configuration reference and the routing example', () => {
  it('the configuration reference is a valid config, and its defaults are the real ones', () => {
    const [reference] = yamlBlocks(read('docs/configuration.md'));
    assert.ok(reference !== undefined, 'docs/configuration.md has no yaml block');
    const config = validateConfig(parse(fillPlaceholders(reference)), {});
    const defaults = validateConfig({}, {});
    assert.deepEqual(config.routing, defaults.routing);
    assert.deepEqual(config.cache, defaults.cache);
    assert.deepEqual(config.rateLimit.onStoreError, defaults.rateLimit.onStoreError);
    assert.deepEqual(config.budget, defaults.budget);
    assert.deepEqual(config.concurrency, defaults.concurrency);
    assert.deepEqual(config.alerts, defaults.alerts);
    assert.deepEqual(config.requestLog, defaults.requestLog);
    assert.equal(config.backends[0]?.healthCheck?.path, '/models');
  });

  it('the routing example is a valid config with the tiers it describes', () => {
    const [example] = yamlBlocks(read('docs/routing.md'));
    assert.ok(example !== undefined, 'docs/routing.md has no yaml block');
    const config = validateConfig(parse(example), {});
    const llama = config.models.find((route) => route.name === 'llama3');
    assert.deepEqual(
      llama?.targets.map((target) => target.backend),
      ['ollama', 'vllm'],
    );
    const qwen = config.models.find((route) => route.name === 'qwen');
    assert.deepEqual(
      qwen?.targets.map((target) => target.weight),
      [3, 1, null],
    );
    assert.equal(
      config.backends.find((backend) => backend.name === 'ollama')?.healthCheck?.path,
      '/api/tags',
    );
  });
});
