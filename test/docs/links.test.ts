/**
 * README.md and docs/*.md are read on GitHub and copied from: every relative link must lead somewhere
 * (the file exists; an #anchor is one of the target page's headings, slugged as GitHub does), and
 * every ```yaml block must pass the validation the gateway runs at start (placeholders such as <hex>
 * replaced by well-formed values, each ${NAME} given a value).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { fillPlaceholders, githubSlugs, markdownLinks, yamlBlocks } from './markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Every Markdown page under docs/, subfolders (docs/protocols/) included, as paths from the root. */
function docsPages(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? docsPages(`${folder}/${entry.name}`)
        : entry.name.endsWith('.md')
          ? [`${folder}/${entry.name}`]
          : [],
    )
    .sort();
}
const pages = ['README.md', ...docsPages('docs')];
const read = (page: string): string => readFileSync(join(root, page), 'utf8');

describe('documentation links', () => {
  it('docs/README.md, the index, lists every page of docs/', () => {
    const listed = new Set(
      markdownLinks(read('docs/README.md')).map((link) => `docs/${link.split('#')[0] ?? ''}`),
    );
    const unlisted = pages.filter(
      (page) => page.startsWith('docs/') && page !== 'docs/README.md' && !listed.has(page),
    );
    assert.deepEqual(unlisted, []);
    assert.ok(listed.has('docs/configuration.md'));
  });

  for (const page of pages) {
    it(`every relative link of ${page} resolves, anchors included`, () => {
      const broken: string[] = [];
      for (const link of markdownLinks(read(page))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path = '', anchor] = link.split('#', 2);
        const target = path === '' ? join(root, page) : join(dirname(join(root, page)), decodeURI(path));
        if (!existsSync(target)) {
          broken.push(`${link}: no file ${relative(root, target)}`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!target.endsWith('.md')) {
          broken.push(`${link}: an anchor into a file that is not Markdown`);
          continue;
        }
        if (!githubSlugs(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading '#${anchor}' in ${relative(root, target)}`);
        }
      }
      assert.deepEqual(broken, [], `broken links in ${page}`);
    });
  }
});

describe('documentation YAML examples', () => {
  it('there are examples to check (the configuration reference among them)', () => {
    assert.ok(yamlBlocks(read('docs/configuration.md')).length > 0);
  });

  for (const page of pages) {
    const blocks = yamlBlocks(read(page));
    if (blocks.length === 0) continue;
    it(`every yaml block of ${page} is a valid config`, () => {
      blocks.forEach((block, index) => {
        const text = fillPlaceholders(block);
        // ${NAME:-default} takes its default; ${NAME} alone needs a value.
        const env = Object.fromEntries(
          [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => [
            match[1] ?? '',
            'from-the-environment',
          ]),
        );
        try {
          validateConfig(parse(text), env);
        } catch (error) {
          assert.fail(`yaml block ${index + 1} of ${page} is not a valid config: ${String(error)}\n${block}`);
        }
      });
    });
  }
});
