// The baseline: a bare Fastify + undici pass-through proxy, no features at all.
import Fastify from 'fastify';
import { Agent } from 'undici';

const upstream = process.argv[2];
const agent = new Agent({ keepAliveTimeout: 60_000 });
const app = Fastify({ logger: false });
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
  done(null, body),
);
app.post('/v1/chat/completions', async (request, reply) => {
  const response = await agent.request({
    origin: upstream,
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: request.body,
  });
  reply.code(response.statusCode).header('content-type', response.headers['content-type']);
  return reply.send(response.body);
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`);
