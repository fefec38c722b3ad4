import { setImmediate as nextTurn } from 'node:timers/promises';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from '../../api/schemas.js';
import { InvalidRequestError } from '../../errors/errors.js';
import type { BackendAdapter, UpstreamCall } from '../adapter.js';
import { completionId, nowSeconds } from '../ids.js';
import { floatsToBase64 } from '../embedding-encoding.js';
import { countWords, demoAnswer, demoEmbedding } from './demo-model.js';

/** The in-process demo backend: no network, deterministic answers, real streaming and usage. */
export class DemoAdapter implements BackendAdapter {
  readonly type = 'demo';

  constructor(readonly name: string) {}

  chat(request: ChatCompletionRequest): Promise<ChatCompletion> {
    const answer = demoAnswer(request);
    const completion = answer.tokens.length;
    return Promise.resolve({
      id: completionId(),
      object: 'chat.completion',
      created: nowSeconds(),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: answer.tokens.join('') },
          finish_reason: answer.finishReason,
        },
      ],
      usage: {
        prompt_tokens: answer.promptTokens,
        completion_tokens: completion,
        total_tokens: answer.promptTokens + completion,
      },
    });
  }

  chatStream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): Promise<AsyncIterable<ChatCompletionChunk>> {
    return Promise.resolve(this.stream(request, call));
  }

  embeddings(request: EmbeddingsRequest): Promise<EmbeddingsResponse> {
    const inputs = typeof request.input === 'string' ? [request.input] : request.input;
    if (inputs.some((input) => typeof input !== 'string')) {
      throw new InvalidRequestError('The demo model takes text input, not token arrays', { param: 'input' });
    }
    const texts = inputs as string[];
    const tokens = texts.reduce((sum, text) => sum + countWords(text), 0);
    return Promise.resolve({
      object: 'list',
      data: texts.map((text, index) => {
        const vector = demoEmbedding(text);
        return {
          object: 'embedding' as const,
          index,
          embedding: request.encoding_format === 'base64' ? floatsToBase64(vector) : vector,
        };
      }),
      model: request.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  listModels(): Promise<string[]> {
    return Promise.resolve([]);
  }

  probe(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async *stream(
    request: ChatCompletionRequest,
    call: UpstreamCall,
  ): AsyncGenerator<ChatCompletionChunk> {
    const answer = demoAnswer(request);
    const base = {
      id: completionId(),
      object: 'chat.completion.chunk' as const,
      created: nowSeconds(),
      model: request.model,
    };
    yield {
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    };
    for (const token of answer.tokens) {
      // Yield to the event loop between tokens, as a real model would, so that aborts are seen.
      await nextTurn();
      if (call.signal.aborted) throw call.signal.reason;
      yield { ...base, choices: [{ index: 0, delta: { content: token }, finish_reason: null }] };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: answer.finishReason }] };
    const completion = answer.tokens.length;
    yield {
      ...base,
      choices: [],
      usage: {
        prompt_tokens: answer.promptTokens,
        completion_tokens: completion,
        total_tokens: answer.promptTokens + completion,
      },
    };
  }
}
