/**
 * The built admin UI (`npm run build:ui`, Vite's output in dist/web-ui): read once into memory, each
 * text file with its gzip and Brotli forms, so that serving a file is a map look-up. Hashed assets
 * under assets/ never change; index.html names them and is revalidated (ETag).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** dist/web-ui at the package root, from src/ui (tsx) and dist/ui (compiled) alike. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../dist/web-ui/', import.meta.url));

export interface StaticFile {
  readonly body: Buffer;
  readonly gzip: Buffer | null;
  readonly brotli: Buffer | null;
  readonly type: string;
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);
/** Smaller files are sent as they are. */
const COMPRESS_FROM_BYTES = 1024;
/** A miss re-reads the folder (a rebuild while running) at most this often. */
const RESCAN_MS = 1000;

export class StaticAssets {
  private files = new Map<string, StaticFile>();
  private scannedAt = -Infinity;

  constructor(private readonly directory: string = DEFAULT_ASSETS_DIR) {}

  /** Whether the build exists (index.html is there). */
  get built(): boolean {
    return this.get('index.html') !== null;
  }

  /** A file by its path under the folder (`index.html`, `assets/index-3f2a.js`); null when absent. */
  get(path: string): StaticFile | null {
    const file = this.files.get(path);
    if (file !== undefined) return file;
    const now = Date.now();
    if (now - this.scannedAt < RESCAN_MS) return null;
    this.scannedAt = now;
    this.files = scan(this.directory);
    return this.files.get(path) ?? null;
  }
}

function scan(directory: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(directory)) return files;
  const visit = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        visit(path);
        continue;
      }
      const extension = extname(name);
      const type = TYPES[extension];
      if (type === undefined) continue;
      const body = readFileSync(path);
      const compress = COMPRESSIBLE.has(extension) && body.length >= COMPRESS_FROM_BYTES;
      files.set(relative(directory, path).split(sep).join('/'), {
        body,
        type,
        gzip: compress ? gzipSync(body, { level: 9 }) : null,
        brotli: compress
          ? brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } })
          : null,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      });
    }
  };
  visit(directory);
  return files;
}

/** The encoding to send: Brotli, then gzip, when the client takes it and the file has it. */
export function chooseEncoding(file: StaticFile, accept: string | undefined): 'br' | 'gzip' | null {
  if (accept === undefined) return null;
  const accepted = new Set(
    accept
      .split(',')
      .map((part) => part.trim().toLowerCase())
      .filter((part) => !/;\s*q=0(\.0*)?$/.test(part))
      .map((part) => part.split(';')[0]?.trim() ?? ''),
  );
  if (file.brotli !== null && accepted.has('br')) return 'br';
  if (file.gzip !== null && (accepted.has('gzip') || accepted.has('*'))) return 'gzip';
  return null;
}
