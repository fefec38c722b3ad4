/**
 * Regenerates src/generated/openapi.ts from the gateway's OpenAPI document.
 * Run from the repository's root: `npm run clients:generate`.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { GENERATED_FILE, generateTypes, openApiDocument } from './openapi-types.js';

const source = await generateTypes(await openApiDocument());
writeFileSync(GENERATED_FILE, source);
console.log(`wrote ${relative(process.cwd(), GENERATED_FILE)} (${source.split('\n').length} lines)`);
