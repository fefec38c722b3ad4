/**
 * The client runs in browsers as well as on Node: its sources compile with the DOM's types and no
 * Node types at all (clients/typescript/tsconfig.build.json), import no Node module, and build into
 * JavaScript and declarations that Node can import.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import ts from 'typescript';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = join(PACKAGE, 'src');

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(directory, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(directory, entry.name)]
        : [],
  );
}

describe('the client is portable', () => {
  it('imports no Node module (node:*, or a bare name: it has no dependencies)', () => {
    for (const file of sourceFiles(SOURCES)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g)) {
        const specifier = match[1] ?? match[2] ?? '';
        assert.ok(specifier.startsWith('./') || specifier.startsWith('../'), `${file} imports ${specifier}`);
      }
    }
  });

  it('compiles with the DOM library and no Node types, into JavaScript Node can import', async () => {
    const configPath = join(PACKAGE, 'tsconfig.build.json');
    const read = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
    assert.equal(read.error, undefined);
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, PACKAGE);
    const outDir = mkdtempSync(join(tmpdir(), 'gw-client-build-'));
    try {
      const program = ts.createProgram(parsed.fileNames, { ...parsed.options, outDir });
      const emitted = program.emit();
      const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
      const messages = diagnostics.map((diagnostic) =>
        ts.formatDiagnostic(diagnostic, {
          getCanonicalFileName: (name) => name,
          getCurrentDirectory: () => PACKAGE,
          getNewLine: () => '\n',
        }),
      );
      assert.deepEqual(messages, []);
      assert.deepEqual(parsed.options.types, []);
      assert.ok(parsed.options.lib?.some((lib) => /dom/i.test(lib)));
      const built = (await import(pathToFileURL(join(outDir, 'index.js')).href)) as Record<string, unknown>;
      assert.equal(typeof built['GatewayClient'], 'function');
      assert.equal(typeof built['GatewayError'], 'function');
      assert.ok(readFileSync(join(outDir, 'index.d.ts'), 'utf8').includes('GatewayClient'));
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
