/**
 * The benchmark's interleaving load generator (bench/sliced-load.ts) against real HTTP servers: it
 * counts every answer (content-length and chunked), keeps the configured number of requests in flight,
 * opens new connections when the server closed idle ones, and fails on an answer that is not 200.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SlicedTarget } from '../../bench/sliced-load.js';

const servers: Server[] = [];
const acceptedBy = new Map<Server, () => number>();
/** Connections the server has accepted so far. */
const connections = (server: Server): number => acceptedBy.get(server)!();

after(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise((resolve) => {
          server.closeAllConnections();
          server.close(resolve);
        }),
    ),
  );
});

/** A server that records each request's body and answers with `answer`; its URL. */
async function serve(answer: (response: ServerResponse, count: number) => void): Promise<{
  url: string;
  server: Server;
  bodies: string[];
  inFlight: { now: number; most: number };
}> {
  const bodies: string[] = [];
  const inFlight = { now: 0, most: 0 };
  const server = createServer((request, response) => {
    inFlight.now++;
    inFlight.most = Math.max(inFlight.most, inFlight.now);
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      bodies.push(body);
      // Answered a little later, so that requests overlap.
      setTimeout(() => {
        inFlight.now--;
        answer(response, bodies.length);
      }, 2);
    });
  });
  let accepted = 0;
  server.on('connection', () => accepted++);
  acceptedBy.set(server, () => accepted);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies, inFlight };
}

const request = {
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
};

describe('SlicedTarget', () => {
  it('counts every answer, with content-length or chunked, and keeps the connections busy', async () => {
    for (const chunked of [false, true]) {
      const { url, bodies, inFlight } = await serve((response, count) => {
        if (chunked) {
          response.write('{"part":');
          response.end(`${count}}`);
        } else {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ count }));
        }
      });
      const target = new SlicedTarget(url, 4, request);
      const slice = await target.slice(150);
      target.close();
      // Every request the server saw was answered and counted, none more: the slice waits for the last.
      assert.equal(slice.requests, bodies.length);
      assert.ok(slice.requests >= 8, `only ${slice.requests} answers in 150 ms`);
      assert.equal(slice.latencies.length, slice.requests);
      assert.ok(bodies.every((body) => body === request.body));
      assert.equal(inFlight.most, 4, 'four connections, four requests in flight');
      assert.ok(slice.seconds >= 0.15);
    }
  });

  it('opens a new connection when the server closed an idle one', async () => {
    const { url, bodies, server } = await serve((response) => {
      response.end('{}');
    });
    const target = new SlicedTarget(url, 2, request);
    const first = await target.slice(30);
    // What a keep-alive timeout does: the server closes the connections while they are idle.
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await target.slice(30);
    target.close();
    assert.ok(first.requests > 0 && second.requests > 0);
    assert.equal(first.requests + second.requests, bodies.length);
    assert.equal(connections(server), 4, 'two connections, then two new ones');
  });

  it('fails the slice on an answer that is not 200', async () => {
    const { url } = await serve((response, count) => {
      response.statusCode = count === 3 ? 503 : 200;
      response.end('{}');
    });
    const target = new SlicedTarget(url, 1, request);
    await assert.rejects(target.slice(1000), /unexpected answer: HTTP\/1\.1 503/);
    target.close();
  });
});
