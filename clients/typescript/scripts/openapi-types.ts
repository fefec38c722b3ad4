/**
 * The OpenAPI document the gateway serves at /openapi.json, and the TypeScript types generated from it
 * with openapi-typescript (then formatted with the repository's Prettier settings, so that the checked-in
 * file passes `prettier --check`). Used by scripts/generate.ts (which writes src/generated/openapi.ts)
 * and by test/generated.test.ts (which checks that the checked-in file is current).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import pino from 'pino';
import prettier from 'prettier';
import { validateConfig } from '../../../src/config/load.js';
import { buildGateway } from '../../../src/server/app.js';

/** Where the generated types live, checked in. */
export const GENERATED_FILE = fileURLToPath(new URL('../src/generated/openapi.ts', import.meta.url));

const HEADER = `/**
 * Generated from the gateway's OpenAPI document (GET /openapi.json) by openapi-typescript.
 * Do not edit by hand: run \`npm run clients:generate\` at the repository's root after changing the API.
 */
`;

/**
 * The document /openapi.json serves, taken from a gateway built in process (the same buildGateway the
 * CLI uses) without listening: the route schemas do not depend on the config beyond what is fixed here.
 */
export async function openApiDocument(): Promise<OpenAPI3> {
  const stateDir = mkdtempSync(join(tmpdir(), 'gw-openapi-'));
  try {
    const config = validateConfig(
      {
        server: { port: 0, state_dir: stateDir },
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
        auth: { keys: [] },
      },
      { GATEWAY_ADMIN_TOKEN: 'generate-openapi-types-admin-token' },
    );
    const gateway = await buildGateway({ config, logger: pino({ level: 'silent' }), env: {} });
    try {
      await gateway.app.ready();
      // A JSON round trip, as /openapi.json sends it: no undefined members, no shared objects.
      return JSON.parse(JSON.stringify(gateway.app.swagger())) as OpenAPI3;
    } finally {
      await gateway.shutdown();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The contents of src/generated/openapi.ts for this document. */
export async function generateTypes(document: OpenAPI3): Promise<string> {
  const ast = await openapiTS(document, { emptyObjectsUnknown: true, silent: true });
  const source = HEADER + '\n' + astToString(ast);
  const options = (await prettier.resolveConfig(GENERATED_FILE)) ?? {};
  return prettier.format(source, { ...options, filepath: GENERATED_FILE });
}
