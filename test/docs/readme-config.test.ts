/**
 * The README's YAML examples are configs people copy: each must pass the same validation the gateway
 * runs at start (placeholders such as <hex> replaced by well-formed values).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The ```yaml blocks of the README section with this heading. */
function yamlBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has no section '${heading}'`);
  const next = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

function fillPlaceholders(text: string): string {
  return text.replaceAll('<hex>', 'a'.repeat(64)).replaceAll('<64 hex characters>', 'b'.repeat(64));
}

describe('README configuration examples', () => {
  it('the configuration reference is a valid config, and its defaults are the real ones', () => {
    const [reference] = yamlBlocks('Configuration');
    assert.ok(reference !== undefined);
    const config = validateConfig(parse(fillPlaceholders(reference)), {});
    const defaults = validateConfig({}, {});
    assert.deepEqual(config.routing, defaults.routing);
    assert.deepEqual(config.cache, defaults.cache);
    assert.deepEqual(config.rateLimit.onStoreError, defaults.rateLimit.onStoreError);
    assert.equal(config.backends[0]?.healthCheck?.path, '/models');
  });

  it('the routing example is a valid config with the tiers it describes', () => {
    const [example] = yamlBlocks('Routing and resilience');
    assert.ok(example !== undefined);
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
