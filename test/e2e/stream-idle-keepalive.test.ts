/**
 * A stream that is silent, or silent but alive (issue 17, item 6; RELIABILITY.md #9): the idle timeout
 * (`idle_timeout_ms`) ends a silent stream at the configured time, not 22-50% late as undici's coarse
 * body timer did; an upstream's keep-alive comments reach the client, and the official openai SDK
 * still reads the stream. A real gateway in front of the stand-in upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STAND_IN_TOKENS, StandInUpstream } from '../support/stand-in-upstream.js';
import { TEST_KEY, standInConfig, startGateway, type RunningGateway } from '../support/gateway-harness.js';

const MESSAGES = [{ role: 'user' as const, content: 'Tell me something' }];
const IDLE_MS = 500;

/** Reads a fetch response's body as SSE blocks (the text between blank lines), each with its arrival time. */
async function* blocks(response: Response): AsyncGenerator<{ block: string; at: number }> {
  assert.ok(response.body !== null);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      yield { block: buffer.slice(0, end), at: performance.now() };
      buffer = buffer.slice(end + 2);
    }
  }
  assert.equal(buffer, '', 'the stream ends on a block boundary');
}

function streamChat(running: RunningGateway, model: string): Promise<Response> {
  return fetch(`${running.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: MESSAGES, stream: true }),
  });
}

describe('a stream that goes silent: idle_timeout_ms 500 ends it on time', () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    upstream.behaviour = { kind: 'stream-silent-after', chunks: 2 };
    running = await startGateway(standInConfig(upstream.url, { idle_timeout_ms: IDLE_MS }));
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  for (const [model, backend] of [
    ['qwen', 'vllm'],
    ['llama', 'ollama'],
  ] as const) {
    it(`${model} (${backend}): the error event arrives 500-650 ms after the last chunk, every time`, async (t) => {
      const gaps: number[] = [];
      for (let round = 0; round < 4; round++) {
        const response = await streamChat(running, model);
        assert.equal(response.status, 200);
        let lastChunkAt = 0;
        let error: { error: { code: string } } | null = null;
        let errorAt = 0;
        for await (const { block, at } of blocks(response)) {
          const parsed = JSON.parse(block.replace(/^data: /, '')) as Record<string, unknown>;
          if ('error' in parsed) {
            error = parsed as unknown as { error: { code: string } };
            errorAt = at;
          } else lastChunkAt = at;
        }
        assert.equal(error?.error.code, 'upstream_timeout');
        gaps.push(Math.round(errorAt - lastChunkAt));
      }
      t.diagnostic(`${backend}: error event ${gaps.join(', ')} ms after the last chunk`);
      // Before the fix undici's body timer (a 1 s clock ticking every 499 ms) ended them after 0.5-1.5 s.
      for (const gap of gaps) {
        assert.ok(gap >= IDLE_MS * 0.9 && gap <= IDLE_MS + 150, `gaps of ${gaps.join(', ')} ms`);
      }
    });
  }
});

describe("an upstream's keep-alive comments between chunks", () => {
  let upstream: StandInUpstream;
  let running: RunningGateway;
  const COMMENT = 'keep-alive from the stand-in';

  before(async () => {
    upstream = new StandInUpstream();
    await upstream.start();
    upstream.behaviour = { kind: 'stream-with-comments', comment: COMMENT, delayMs: 20 };
    running = await startGateway(standInConfig(upstream.url));
  });
  after(async () => {
    await running.stop();
    await upstream.stop();
  });

  it('reach the client as comment lines between the unchanged data events', async () => {
    const response = await streamChat(running, 'qwen');
    assert.equal(response.status, 200);
    const seen: string[] = [];
    for await (const { block } of blocks(response)) seen.push(block);
    const comments = seen.filter((block) => block.startsWith(':'));
    const events = seen.filter((block) => !block.startsWith(':'));
    for (const comment of comments) assert.equal(comment, `: ${COMMENT}`);
    for (const event of events) assert.match(event, /^data: [^\n]+$/);
    assert.equal(events.at(-1), 'data: [DONE]');
    // The client gets the role chunk, one per token, the finish chunk and [DONE]. The upstream sent a
    // comment before each of those and before the usage chunk the gateway always asks for (and the
    // client did not): all passed on but the first, which came before the client's stream was open.
    assert.equal(events.length, STAND_IN_TOKENS.length + 3);
    assert.equal(comments.length, events.length + 1 - 1, JSON.stringify(seen));
    assert.ok(seen[0]?.startsWith('data: '), 'the stream opens with a data event');
  });

  it('leave the official openai SDK reading the stream as before', async () => {
    const stream = await running.client().chat.completions.create({
      model: 'qwen',
      messages: MESSAGES,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, STAND_IN_TOKENS.join(''));
    assert.equal(finish, 'stop');
  });
});
