// A fast OpenAI-compatible upstream for the benchmark: a fixed completion, or a short SSE stream.
// Slow-stream mode (bench/streams.ts): a streaming request for the model 'slow' gets its first chunk at
// once, then one chunk every SLOW_STREAM_INTERVAL_MS (default 5000) until the client goes away.
import { createServer } from 'node:http';

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1700000000,
  model: 'bench',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello from the benchmark upstream.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17 },
});
const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'bench' };
const events =
  [
    { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    ...['Hello', ' from', ' the', ' benchmark'].map((content) => ({
      ...base,
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    })),
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
    { ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 } },
  ]
    .map((event) => `data: ${JSON.stringify(event)}\n\n`)
    .join('') + 'data: [DONE]\n\n';

const slowInterval = Number(process.env.SLOW_STREAM_INTERVAL_MS ?? 5000);
const slowBase = { ...base, model: 'slow' };
const slowFirst = `data: ${JSON.stringify({ ...slowBase, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hello' }, finish_reason: null }] })}\n\n`;
const slowNext = `data: ${JSON.stringify({ ...slowBase, choices: [{ index: 0, delta: { content: ' again' }, finish_reason: null }] })}\n\n`;

function slowStream(response) {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  response.write(slowFirst);
  const timer = setInterval(() => response.write(slowNext), slowInterval);
  response.on('close', () => clearInterval(timer));
}

const server = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const received = Buffer.concat(chunks);
    const stream = received.includes('"stream":true');
    if (stream && received.includes('"model":"slow"')) {
      slowStream(response);
    } else if (stream) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(events);
    } else {
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(completion),
      });
      response.end(completion);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
