import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import fastify from 'fastify';
import pino from 'pino';
import { LOG_SERIALIZERS, serializeError } from './logger.js';

const SECRET = 'sk-gw-SECRETMARKERxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';

/** An error as Node's HTTP parser makes them: the raw request bytes on `rawPacket`. */
function parserError(): Error {
  const error = new Error('Parse Error: Invalid header value char') as Error & Record<string, unknown>;
  error['code'] = 'HPE_INVALID_HEADER_TOKEN';
  error['bytesParsed'] = 120;
  error['rawPacket'] = Buffer.from(`POST / HTTP/1.1\r\nAuthorization: Bearer ${SECRET}\r\n\r\n`);
  error['headers'] = { authorization: `Bearer ${SECRET}` };
  return error;
}

describe('serializeError (issue 16, finding 4)', () => {
  it('keeps what an error is and drops what a client or upstream sent', () => {
    const error = parserError();
    const safe = serializeError(new Error('wrapped', { cause: error })) as Record<string, unknown>;
    assert.match(String(safe['message']), /^wrapped/);
    const cause = safe['cause'] as Record<string, unknown>;
    assert.equal(cause['code'], 'HPE_INVALID_HEADER_TOKEN');
    assert.equal(cause['rawPacket'], undefined);
    assert.equal(cause['headers'], undefined);
    assert.ok(!JSON.stringify(safe).includes('SECRETMARKER'));
  });

  it('is what a Fastify request logger uses too, at trace level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const app = fastify({ loggerInstance: pino({ level: 'trace', serializers: LOG_SERIALIZERS }, sink) });
    app.get('/', (request) => {
      request.log.trace({ err: parserError() }, 'client error');
      return 'ok';
    });
    const response = await app.inject('/');
    assert.equal(response.statusCode, 200);
    await app.close();
    const logged = lines.find((line) => line.includes('client error'));
    assert.ok(logged !== undefined);
    assert.match(logged, /HPE_INVALID_HEADER_TOKEN/);
    assert.ok(!logged.includes('rawPacket'), logged);
    assert.ok(!Buffer.from(JSON.stringify(lines)).includes('SECRETMARKER'));
  });
});
