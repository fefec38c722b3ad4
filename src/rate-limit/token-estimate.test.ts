import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTokens } from 'gpt-tokenizer';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../api/schemas.js';
import {
  countPromptTokens,
  countTextTokens,
  estimateChatTokens,
  estimateEmbeddingTokens,
} from './token-estimate.js';

function chat(content: string, extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest {
  return { model: 'small', messages: [{ role: 'user', content }], ...extra };
}

const SENTENCE = 'The quick brown fox jumps over the lazy dog. ';

describe('countPromptTokens', () => {
  it('grows with the prompt', () => {
    const counts = [1, 10, 100].map((repeat) => countPromptTokens(chat(SENTENCE.repeat(repeat))));
    assert.ok(counts[0]! < counts[1]! && counts[1]! < counts[2]!, counts.join(' < '));
    // A real tokenizer: about ten tokens per sentence, not one per character or per word.
    assert.ok(counts[2]! - counts[1]! > 90 * 8 && counts[2]! - counts[1]! < 90 * 12, String(counts));
  });

  it('counts the text with o200k_base plus a few tokens per message', () => {
    const one = countPromptTokens(chat('Hello, world!'));
    assert.equal(one, 3 + 4 + countTokens('Hello, world!'));
    const two = countPromptTokens({
      model: 'small',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello, world!' },
      ],
    });
    assert.equal(two, one + 4 + countTokens('Be brief.'));
  });

  it('counts a text sent again, or again after thousands of others, as the tokenizer does', () => {
    const texts = Array.from({ length: 5000 }, (_, index) => `${SENTENCE.repeat(index % 7)}message ${index}`);
    const expected = texts.map((text) => 3 + 4 + countTokens(text));
    for (let pass = 0; pass < 2; pass++) {
      assert.deepEqual(
        texts.map((text) => countPromptTokens(chat(text))),
        expected,
        `pass ${pass}`,
      );
    }
  });

  it('counts the text parts of a multi-part message, and nothing for a null content', () => {
    const parts = countPromptTokens({
      model: 'small',
      messages: [{ role: 'user', content: [{ type: 'text', text: SENTENCE } as { type: string }] }],
    });
    assert.equal(parts, countPromptTokens(chat(SENTENCE)));
    const empty = countPromptTokens({ model: 'small', messages: [{ role: 'assistant', content: null }] });
    assert.equal(empty, 3 + 4);
  });

  it('counts the tools definitions', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const withTools = countPromptTokens(chat('Hi', { tools }));
    assert.equal(withTools, countPromptTokens(chat('Hi')) + countTokens(JSON.stringify(tools)));
  });
});

describe('estimateChatTokens', () => {
  const prompt = countPromptTokens(chat('Hi'));

  it('adds the default completion tokens when the request sets no limit', () => {
    assert.equal(estimateChatTokens(chat('Hi'), 1024), prompt + 1024);
    assert.equal(estimateChatTokens(chat('Hi', { max_tokens: null }), 1024), prompt + 1024);
  });

  it('adds max_tokens instead of the default', () => {
    assert.equal(estimateChatTokens(chat('Hi', { max_tokens: 50 }), 1024), prompt + 50);
  });

  it('prefers max_completion_tokens to max_tokens', () => {
    assert.equal(
      estimateChatTokens(chat('Hi', { max_tokens: 50, max_completion_tokens: 70 }), 1024),
      prompt + 70,
    );
    assert.equal(estimateChatTokens(chat('Hi', { max_completion_tokens: 70 }), 1024), prompt + 70);
  });

  it('reserves the completion once per choice (n), the prompt once', () => {
    assert.equal(estimateChatTokens(chat('Hi', { max_tokens: 50, n: 3 }), 1024), prompt + 150);
    assert.equal(estimateChatTokens(chat('Hi', { n: 2 }), 100), prompt + 200);
    assert.equal(estimateChatTokens(chat('Hi', { max_tokens: 50, n: null }), 1024), prompt + 50);
  });
});

describe('estimateEmbeddingTokens', () => {
  it('counts a string, and grows with it', () => {
    const embedding = (input: EmbeddingsRequest['input']): number =>
      estimateEmbeddingTokens({ model: 'embed', input });
    assert.equal(embedding('Hello, world!'), countTokens('Hello, world!'));
    assert.ok(embedding(SENTENCE.repeat(10)) > embedding(SENTENCE), 'longer input, more tokens');
  });

  it('sums a list of strings', () => {
    assert.equal(
      estimateEmbeddingTokens({ model: 'embed', input: ['Hello, world!', SENTENCE] }),
      countTokens('Hello, world!') + countTokens(SENTENCE),
    );
  });

  it('counts token arrays by their length: one array, or a list of them', () => {
    assert.equal(estimateEmbeddingTokens({ model: 'embed', input: [101, 102, 103, 104] }), 4);
    assert.equal(
      estimateEmbeddingTokens({
        model: 'embed',
        input: [
          [1, 2, 3],
          [4, 5],
        ],
      }),
      5,
    );
  });
});

describe('countTextTokens', () => {
  it('is zero for nothing and the tokenizer count otherwise', () => {
    assert.equal(countTextTokens(''), 0);
    assert.equal(countTextTokens(SENTENCE), countTokens(SENTENCE));
    assert.ok(countTextTokens(SENTENCE.repeat(3)) > countTextTokens(SENTENCE), 'longer text, more tokens');
  });
});
