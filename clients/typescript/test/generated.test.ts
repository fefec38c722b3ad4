/**
 * The checked-in types (src/generated/openapi.ts) are those openapi-typescript generates from the
 * gateway's OpenAPI document as it is now: an API change without `npm run clients:generate` fails here.
 * And the document they are generated from is the one a running gateway serves at /openapi.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GENERATED_FILE, generateTypes, openApiDocument } from '../scripts/openapi-types.js';
import { startGateway, testConfig } from '../../../test/support/gateway-harness.js';

describe('the generated types', () => {
  it('src/generated/openapi.ts is current (else run: npm run clients:generate)', async () => {
    const expected = await generateTypes(await openApiDocument());
    const checkedIn = readFileSync(GENERATED_FILE, 'utf8');
    assert.ok(
      checkedIn === expected,
      'clients/typescript/src/generated/openapi.ts is stale: run `npm run clients:generate` and commit it',
    );
  });

  it('are generated from the document a running gateway serves at /openapi.json', async () => {
    const running = await startGateway(
      testConfig({
        backends: [{ name: 'demo', type: 'demo' }],
        models: [{ name: 'demo', targets: [{ backend: 'demo' }] }],
      }),
      { GATEWAY_ADMIN_TOKEN: 'admin-token-for-the-openapi-types-test' },
    );
    try {
      const response = await fetch(`${running.url}/openapi.json`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), await openApiDocument());
    } finally {
      await running.stop();
    }
  });
});
