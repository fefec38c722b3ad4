import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifySchemaValidationError } from 'fastify';
import { describeValidationErrors, fieldPath } from './validation-message.js';

/** One Ajv error as Fastify hands it over (allErrors: true); shapes copied from Ajv 8's output. */
function error(
  keyword: string,
  instancePath: string,
  params: Record<string, unknown>,
  message?: string,
): FastifySchemaValidationError {
  return { keyword, instancePath, schemaPath: '#/…', params, ...(message === undefined ? {} : { message }) };
}

/** What Ajv reports for a value that matches no branch of a union of literals. */
function notOneOf(instancePath: string, allowed: string[]): FastifySchemaValidationError[] {
  return [
    ...allowed.map((value) =>
      error('const', instancePath, { allowedValue: value }, 'must be equal to constant'),
    ),
    error('anyOf', instancePath, {}, 'must match a schema in anyOf'),
  ];
}

/** What Ajv reports for a value of the wrong type in a union of types. */
function notOfTypes(instancePath: string, types: string[]): FastifySchemaValidationError[] {
  return [
    ...types.map((type) => error('type', instancePath, { type }, `must be ${type}`)),
    error('anyOf', instancePath, {}, 'must match a schema in anyOf'),
  ];
}

describe('fieldPath', () => {
  it('turns a JSON pointer into a field path with [index] for array items', () => {
    assert.equal(fieldPath('/messages/0/role'), 'messages[0].role');
    assert.equal(fieldPath('/messages/12/content/3/image_url'), 'messages[12].content[3].image_url');
    assert.equal(fieldPath('/0/name'), '[0].name');
  });

  it('appends the missing property of a "required" error', () => {
    assert.equal(fieldPath('', 'model'), 'model');
    assert.equal(fieldPath('/messages/0', 'role'), 'messages[0].role');
  });

  it('ignores a missing property that is not a string', () => {
    assert.equal(fieldPath('/temperature', undefined), 'temperature');
    assert.equal(fieldPath('/temperature', 7), 'temperature');
  });

  it("names the whole body 'body'", () => {
    assert.equal(fieldPath(''), 'body');
  });

  it('unescapes ~1 and ~0', () => {
    assert.equal(fieldPath('/metadata/a~1b/c~0d'), 'metadata.a/b.c~d');
  });
});

describe('describeValidationErrors', () => {
  it('names a missing field as required', () => {
    const result = describeValidationErrors([
      error('required', '', { missingProperty: 'model' }, "must have required property 'model'"),
      error('required', '', { missingProperty: 'messages' }, "must have required property 'messages'"),
    ]);
    assert.deepEqual(result, {
      detail: 'Invalid request: model: is required; messages: is required',
      firstField: 'model',
    });
  });

  it('folds the branches of a union of literals into "must be one of"', () => {
    const result = describeValidationErrors(notOneOf('/messages/0/role', ['system', 'user', 'assistant']));
    assert.deepEqual(result, {
      detail: 'Invalid request: messages[0].role: must be one of "system", "user", "assistant"',
      firstField: 'messages[0].role',
    });
  });

  it('folds the branches of a union of types into "must be A or B"', () => {
    const result = describeValidationErrors(notOfTypes('/stop', ['string', 'array', 'null']));
    assert.equal(result.detail, 'Invalid request: stop: must be string or array or null');
    assert.equal(result.firstField, 'stop');
  });

  it('prefers the message of the branch that almost matched over the list of types', () => {
    // temperature: 5 against number{max 2} | null
    const result = describeValidationErrors([
      error('maximum', '/temperature', { comparison: '<=', limit: 2 }, 'must be <= 2'),
      error('type', '/temperature', { type: 'null' }, 'must be null'),
      error('anyOf', '/temperature', {}, 'must match a schema in anyOf'),
    ]);
    assert.equal(result.detail, 'Invalid request: temperature: must be <= 2');
  });

  it('lists several fields in the order reported, one entry per field', () => {
    const result = describeValidationErrors([
      error('required', '', { missingProperty: 'model' }, "must have required property 'model'"),
      ...notOneOf('/messages/0/role', ['system', 'user']),
      ...notOfTypes('/temperature', ['number', 'null']),
      error('minItems', '/tools', { limit: 1 }, 'must NOT have fewer than 1 items'),
      error('minItems', '/tools', { limit: 1 }, 'must NOT have fewer than 1 items'),
    ]);
    assert.equal(
      result.detail,
      'Invalid request: model: is required; messages[0].role: must be one of "system", "user"; ' +
        'temperature: must be number or null; tools: must NOT have fewer than 1 items',
    );
    assert.equal(result.firstField, 'model');
  });

  it('says "is not valid" when Ajv gives nothing more to say', () => {
    const result = describeValidationErrors([error('anyOf', '/tool_choice', {})]);
    assert.equal(result.detail, 'Invalid request: tool_choice: is not valid');
  });

  it('lists at most 20 fields and counts the rest', () => {
    const errors = Array.from({ length: 25 }, (_, index) =>
      error('type', `/messages/${index}/content`, { type: 'string' }, 'must be string'),
    );
    const result = describeValidationErrors(errors);
    assert.ok(result.detail.includes('messages[19].content: must be string'));
    assert.ok(!result.detail.includes('messages[20].content'));
    assert.ok(result.detail.endsWith('; ... and 5 more'));
    assert.equal(result.firstField, 'messages[0].content');
  });
});
