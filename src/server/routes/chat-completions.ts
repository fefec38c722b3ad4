import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '../../api/schemas.js';
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../api/schemas.js';
import type { KeyRecord } from '../../auth/key-record.js';
import type { UpstreamCall } from '../../backends/adapter.js';
import type { RoutePlan } from '../../routing/model-router.js';
import { completionId, nowSeconds } from '../../backends/ids.js';
import { CompletionAssembler, isCompleteAnswer, replayChunks } from '../../cache/assemble.js';
import { answerJson, type CachedEntry } from '../../cache/cache-store.js';
import { countPromptTokens, countTextTokens, estimateChatTokens } from '../../rate-limit/token-estimate.js';
import { ClientClosedError, toProblem } from '../../errors/errors.js';
import type { GatewayContext } from '../context.js';
import { toGatewayError } from '../error-handler.js';
import { KEEP_ALIVE_MS, SseWriter } from '../sse.js';
import { errorResponses } from './openapi-fragments.js';
import { requestPath, setRoutingHeaders } from '../request-state.js';
import { inSpan } from '../../observability/tracing.js';
import { TextCollector } from '../../logging/prompt-log.js';

/** What a stream has produced so far, for settling a token reservation when no usage is reported. */
interface StreamMeter {
  /** The upstream accepted the request: its prompt was processed. */
  started: boolean;
  producedTokens: number;
  readonly countTokens: boolean;
}

/**
 * The tokens a request really used: the usage the backend reported; else, for a stream that was
 * cancelled or broke, its prompt and what it produced; else nothing (the upstream never answered).
 */
function tokensUsed(request: FastifyRequest<{ Body: ChatCompletionRequest }>, meter: StreamMeter): number {
  const state = request.gateway;
  if (state.promptTokens !== null && state.completionTokens !== null)
    return state.promptTokens + state.completionTokens;
  if (!meter.started) return 0;
  return countPromptTokens(request.body) + meter.producedTokens;
}

function recordUsage(request: FastifyRequest, usage: Usage | null | undefined): void {
  if (usage == null) return;
  request.gateway.promptTokens = usage.prompt_tokens;
  request.gateway.completionTokens = usage.completion_tokens;
}

export function registerChatCompletions(app: FastifyInstance, context: GatewayContext): void {
  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    {
      onRequest: context.authenticate,
      schema: {
        tags: ['OpenAI-compatible'],
        summary: 'Create a chat completion',
        description:
          'OpenAI chat completions. With `stream: true` the answer is server-sent events of chat.completion.chunk objects ending in `data: [DONE]`; an error after the stream started is a last `data: {"error": {...}}` event.',
        security: [{ apiKey: [] }],
        body: ChatCompletionRequestSchema,
        response: {
          200: {
            description: 'The completion (JSON), or its chunks (server-sent events)',
            content: {
              'application/json': { schema: ChatCompletionSchema },
              'text/event-stream': {
                schema: Type.String({ description: 'data: <chat.completion.chunk JSON>' }),
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const state = request.gateway;
      const key = state.key as KeyRecord;
      state.model = body.model;
      const plan = context.router.resolve(body.model, key.models);
      state.routed = true;
      state.routeName = plan.route.name;
      const stream = body.stream === true;
      state.stream = stream;
      const prompts = context.config.promptLogging;
      if (prompts.enabled) state.loggedPrompt = JSON.stringify(body.messages);

      const lookup = await inSpan(state.trace, 'cache_lookup', () =>
        context.cache.lookup({
          endpoint: 'chat',
          route: plan.route,
          backend: plan.cacheBackend,
          upstreamModel: plan.cacheModel,
          body,
          bodyText: state.bodyText,
          keyId: key.id,
          cacheControl: request.headers['cache-control'],
        }),
      );
      try {
        // A stored answer, or the answer of an identical request in flight on this instance.
        const shared = lookup.entry ?? (lookup.status === 'MISS' ? await lookup.joinInFlight() : null);
        if (shared !== null) {
          state.cache = 'HIT';
          state.backend = shared.backend;
          reply.header('x-cache', 'HIT');
          setRoutingHeaders(reply, state);
          // Hits count against request limits and consume no tokens.
          const grant = await inSpan(state.trace, 'rate_limit', () =>
            context.rateLimiter.acquire({ key, route: plan.route, tokens: null }),
          );
          reply.headers(grant.headers);
          if (prompts.enabled) state.loggedAnswer = answerText(shared.body as ChatCompletion);
          return await sendStored(request, reply, shared, stream);
        }
        state.cache = lookup.status;
        reply.header('x-cache', lookup.status);
        // Every target's circuit open: answer at once, before any limit is charged.
        context.attempts.assertAvailable(plan);

        const grant = await inSpan(state.trace, 'rate_limit', () =>
          context.rateLimiter.acquire({
            key,
            route: plan.route,
            tokens: (smallestTokenLimit) =>
              estimateChatTokens(body, context.config.rateLimit.defaultCompletionTokens, smallestTokenLimit),
            ...((body.max_tokens ?? body.max_completion_tokens) == null
              ? { minimumTokens: () => countPromptTokens(body) + 1 }
              : {}),
          }),
        );
        reply.headers(grant.headers);
        const meter: StreamMeter = { started: false, producedTokens: 0, countTokens: grant.countsTokens };
        const call = context.calls.open(request, reply, { stream });
        try {
          if (stream) {
            const assembler = lookup.collects ? new CompletionAssembler() : null;
            const answered = await streamCompletion(request, reply, plan, call, context, meter, assembler);
            if (answered !== null && answered.primary) {
              const assembled = assembler?.result() ?? null;
              if (assembled !== null) lookup.complete(assembled, answered.backend);
            }
            return await reply;
          }
          const attempt = await context.attempts.run(
            plan,
            call,
            state,
            (adapter, upstreamModel, attemptCall) =>
              adapter.chat({ ...body, model: upstreamModel }, attemptCall),
            (completion) => ({
              promptTokens: completion.usage?.prompt_tokens ?? null,
              completionTokens: completion.usage?.completion_tokens ?? null,
            }),
          );
          const completion = attempt.value;
          recordUsage(request, completion.usage);
          if (prompts.enabled) state.loggedAnswer = answerText(completion);
          // Only the first tier's answers are stored: a fallback's answer is served, not kept for later.
          if (lookup.collects && attempt.primary && isCompleteAnswer(completion))
            lookup.complete(completion, attempt.backend);
          setRoutingHeaders(reply, state);
          return await reply.type('application/json').send(JSON.stringify(completion));
        } finally {
          call.close();
          if (grant.countsTokens) grant.settle(tokensUsed(request, meter));
        }
      } finally {
        // No-op once complete() ran; otherwise requests waiting on this one go upstream themselves.
        lookup.abandon();
      }
    },
  );
}

/** Sends a stored (or shared) answer with a fresh id and time: JSON with "cached": true, or replayed as a stream. */
async function sendStored(
  request: FastifyRequest<{ Body: ChatCompletionRequest }>,
  reply: FastifyReply,
  entry: CachedEntry,
  stream: boolean,
): Promise<FastifyReply> {
  const id = completionId();
  const created = nowSeconds();
  if (!stream) {
    // The stored answer's JSON with a fresh id and time: neither parsed nor re-serialised.
    const rest = answerJson(entry).slice(1, -1);
    return reply
      .type('application/json')
      .send(`{"id":"${id}","created":${created},${rest}${rest === '' ? '' : ','}"cached":true}`);
  }
  const fresh = { ...(entry.body as ChatCompletion), id, created };
  const writer = new SseWriter(reply.raw);
  reply.hijack();
  writer.open(reply.getHeaders());
  try {
    for (const chunk of replayChunks(fresh, request.body.stream_options?.include_usage === true)) {
      await writer.data(JSON.stringify(chunk));
    }
    await writer.data('[DONE]');
  } finally {
    writer.end();
  }
  return reply;
}

interface StreamStart {
  readonly iterator: AsyncIterator<ChatCompletionChunk>;
  readonly first: IteratorResult<ChatCompletionChunk>;
}

/**
 * Streams the answer. Attempts run until one produces its first chunk (failures before it are retried
 * or failed over; the client has seen nothing yet); from then on the stream is the answer, and a
 * failure becomes a last error event. Returns who answered when the stream completed, else null.
 */
async function streamCompletion(
  request: FastifyRequest<{ Body: ChatCompletionRequest }>,
  reply: FastifyReply,
  plan: RoutePlan,
  call: UpstreamCall,
  context: GatewayContext,
  meter: StreamMeter,
  assembler: CompletionAssembler | null,
): Promise<{ backend: string; primary: boolean } | null> {
  const body = request.body;
  const writer = new SseWriter(reply.raw, KEEP_ALIVE_MS);
  // An upstream's keep-alive comments go to the client once the stream is open (dropped before).
  const onComment = (text: string): void => {
    writer.comment(text);
  };
  // Awaited before anything is sent: a failure here is still an ordinary problem+json response.
  const attempt = await context.attempts.open(
    plan,
    call,
    request.gateway,
    async (adapter, upstreamModel, attemptCall): Promise<StreamStart> => {
      const chunks = await adapter.chatStream(
        { ...body, model: upstreamModel },
        { ...attemptCall, onComment },
      );
      const iterator = chunks[Symbol.asyncIterator]();
      return { iterator, first: await iterator.next() };
    },
  );
  meter.started = true;
  const { iterator } = attempt.value;
  let next = attempt.value.first;
  const includeUsage = body.stream_options?.include_usage === true;
  const prompts = context.config.promptLogging;
  const logged = prompts.enabled ? new TextCollector(prompts.maxBytes + 1024) : null;
  setRoutingHeaders(reply, request.gateway);
  reply.hijack();
  writer.open(reply.getHeaders());
  try {
    while (next.done !== true) {
      const chunk = next.value;
      if (chunk.usage != null) recordUsage(request, chunk.usage);
      assembler?.add(chunk);
      if (logged !== null) {
        for (const choice of chunk.choices) {
          if (typeof choice.delta.content === 'string') logged.add(choice.delta.content);
        }
      }
      if (meter.countTokens) {
        for (const choice of chunk.choices) {
          if (typeof choice.delta.content === 'string')
            meter.producedTokens += countTextTokens(choice.delta.content);
        }
      }
      if (includeUsage || !isUsageOnly(chunk)) {
        await writer.data(JSON.stringify(chunk));
        if (writer.closed) throw new ClientClosedError();
      }
      next = await iterator.next();
    }
    await writer.data('[DONE]');
    if (writer.closed) {
      attempt.fail(new ClientClosedError());
      return null;
    }
    attempt.succeed({
      promptTokens: request.gateway.promptTokens,
      completionTokens: request.gateway.completionTokens,
    });
    return { backend: attempt.backend, primary: attempt.primary };
  } catch (error) {
    const reason = call.signal.aborted ? (call.signal.reason as unknown) : error;
    attempt.fail(reason);
    if (reason instanceof ClientClosedError || writer.closed) {
      request.gateway.outcome = 'client_closed';
      return null;
    }
    const gatewayError = toGatewayError(reason, request, context.config.server.bodyLimitBytes);
    request.gateway.outcome = 'stream_error';
    request.gateway.errorCode = gatewayError.code;
    request.log.warn({ code: gatewayError.code, detail: gatewayError.message }, 'stream ended with an error');
    await writer.data(JSON.stringify(toProblem(gatewayError, requestPath(request), request.id)));
    return null;
  } finally {
    // Ends the upstream body if the loop stopped early (the generator's own cleanup runs).
    if (next.done !== true) await iterator.return?.().catch(() => undefined);
    // What reached the client, complete or not.
    if (logged !== null) request.gateway.loggedAnswer = logged.toString();
    writer.end();
  }
}

/** The text of an answer's choices, for the prompt log. */
function answerText(completion: ChatCompletion): string {
  return completion.choices.map((choice) => choice.message.content ?? '').join('\n');
}

function isUsageOnly(chunk: ChatCompletionChunk): boolean {
  return chunk.choices.length === 0;
}
