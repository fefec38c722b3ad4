/**
 * What every generation request goes through, whatever protocol it came in: the key's model
 * allow-list, the cache, request and token limits, routing with retries and fallbacks, usage, metrics,
 * logs and traces. It sees the request as an OpenAI chat completion request (the carrier of the
 * conversation model, docs/conversation.md) and hands what comes back to the protocol's output.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Usage } from '../api/schemas.js';
import type { KeyRecord } from '../auth/key-record.js';
import type { UpstreamCall } from '../backends/adapter.js';
import type { RoutePlan } from '../routing/model-router.js';
import type { Grant } from '../rate-limit/rate-limiter.js';
import { completionId, nowSeconds } from '../backends/ids.js';
import { CompletionAssembler, isCompleteAnswer, replayChunks } from '../cache/assemble.js';
import type { CachedEntry } from '../cache/cache-store.js';
import { countPromptTokens, countTextTokens, estimateChatTokens } from '../rate-limit/token-estimate.js';
import { ClientClosedError } from '../errors/errors.js';
import type { GatewayContext } from '../server/context.js';
import { toGatewayError } from '../server/error-handler.js';
import { KEEP_ALIVE_MS, SseWriter } from '../server/sse.js';
import { requestPath, setRoutingHeaders } from '../server/request-state.js';
import { inSpan } from '../observability/tracing.js';
import { TextCollector } from '../logging/prompt-log.js';
import type { ProtocolOutput, StreamOutput } from './output.js';
import { allowedModels } from '../auth/team-models.js';
import { callerScopes } from '../concurrency/slot-pool.js';
import { tryAcquireSoon, type Lease } from '../concurrency/slots.js';
import { countedCost, requestCost } from './request-cost.js';
import { worstCase, type BudgetHold } from './spending.js';

/** What a request refused by its rate limit spent of the budget it had reserved meanwhile. */
const UNSPENT = { usdMicros: 0, tokens: 0 } as const;

/** What a stream has produced so far, for settling a token reservation when no usage is reported. */
interface StreamMeter {
  /** The upstream accepted the request: its prompt was processed. */
  started: boolean;
  producedTokens: number;
  countTokens: boolean;
}

/**
 * The tokens a request really used: the usage the backend reported; else, for a stream that was
 * cancelled or broke, its prompt and what it produced; else nothing (the upstream never answered).
 */
function tokensUsed(request: FastifyRequest, body: ChatCompletionRequest, meter: StreamMeter): number {
  const state = request.gateway;
  if (state.promptTokens !== null && state.completionTokens !== null)
    return state.promptTokens + state.completionTokens;
  if (!meter.started) return 0;
  return countPromptTokens(body) + meter.producedTokens;
}

function recordUsage(request: FastifyRequest, usage: Usage | null | undefined): void {
  if (usage == null) return;
  request.gateway.promptTokens = usage.prompt_tokens;
  request.gateway.completionTokens = usage.completion_tokens;
  const details = (usage as { prompt_tokens_details?: unknown }).prompt_tokens_details;
  if (details !== null && typeof details === 'object') {
    const { cached_tokens: cached, cache_write_tokens: written } = details as Record<string, unknown>;
    if (typeof cached === 'number') request.gateway.cachedTokens = cached;
    if (typeof written === 'number') request.gateway.cacheWriteTokens = written;
  }
  const completion = (usage as { completion_tokens_details?: unknown }).completion_tokens_details;
  if (completion !== null && typeof completion === 'object') {
    const reasoning = (completion as Record<string, unknown>)['reasoning_tokens'];
    if (typeof reasoning === 'number') request.gateway.reasoningTokens = reasoning;
  }
}

/**
 * Serves one generation request. `body` is the request in the carrier form with `model` the name the
 * client asked for; `bodyText` the JSON text it was parsed from when the client sent exactly that (chat
 * completions), else null.
 */
export async function serveGeneration(
  request: FastifyRequest,
  reply: FastifyReply,
  context: GatewayContext,
  body: ChatCompletionRequest,
  output: ProtocolOutput,
  bodyText: string | null,
): Promise<FastifyReply> {
  const state = request.gateway;
  const key = state.key as KeyRecord;
  state.model = body.model;
  const plan = context.router.resolve(body.model, allowedModels(key, state.team));
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
      bodyText,
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
        context.rateLimiter.acquire({ key, team: state.team, route: plan.route, tokens: null }),
      );
      reply.headers(grant.headers);
      if (prompts.enabled) state.loggedAnswer = answerText(shared.body as ChatCompletion);
      return await sendStored(request, reply, shared, stream, output);
    }
    state.cache = lookup.status;
    reply.header('x-cache', lookup.status);
    // Every target's circuit open: answer at once, before any limit is charged.
    context.attempts.assertAvailable(plan);

    // The rate limit, the budget reservation and the concurrency slots (the key's, the team's, and
    // those of the backend the first attempt will use) are all asked for at once: with Redis they cost
    // one round trip together, not four. The rate limit still decides first: a request it refuses
    // gives back what the others held for that round trip (its reservation settled at zero, its
    // slots released).
    const granting = inSpan(state.trace, 'rate_limit', () =>
      context.rateLimiter.acquire({
        key,
        team: state.team,
        route: plan.route,
        tokens: (smallestTokenLimit) =>
          estimateChatTokens(body, context.config.rateLimit.defaultCompletionTokens, smallestTokenLimit),
        ...((body.max_tokens ?? body.max_completion_tokens) == null
          ? { minimumTokens: () => countPromptTokens(body) + 1 }
          : {}),
      }),
    );
    let grant: Grant | null = null;
    const meter: StreamMeter = { started: false, producedTokens: 0, countTokens: false };
    let hold: BudgetHold | null = null;
    let call: ReturnType<GatewayContext['calls']['open']> | null = null;
    let lease: Lease | null = null;
    try {
      // Budgets: the worst case is held before the call and settled to the real cost after it.
      const budgeted = key.budgets.length > 0 || (state.team?.budgets.length ?? 0) > 0;
      call = context.calls.open(request, reply, { stream });
      // The key's and the team's concurrency caps: a slot now if one is free, else a wait in the
      // queue, by priority, once the reservation is held.
      state.priority = key.priority;
      const scopes = callerScopes(key, state.team);
      let tried: Lease | null | Promise<Lease | null> = null;
      let reserved: BudgetHold | null | Promise<BudgetHold | null> = null;
      try {
        // Thrown here (a budget refused at once, a pool shutting down) waits for the rate limit's
        // verdict, which comes first.
        let refused: { readonly error: unknown } | null = null;
        try {
          if (scopes.length > 0) tried = tryAcquireSoon(context.slots, scopes, { priority: key.priority });
          state.preparedSlot = context.attempts.prepareSlot(plan, key.priority);
          if (budgeted) {
            const reserve = (): BudgetHold | null | Promise<BudgetHold | null> =>
              context.spending.reserve({
                key,
                team: state.team,
                worst: () =>
                  worstCase(body, plan, context.prices, context.config.rateLimit.defaultCompletionTokens),
                config: context.config,
                model: body.model,
              });
            // In process the hold comes at once: no turn of the event loop is spent waiting for it.
            reserved =
              state.trace === null ? reserve() : inSpan(state.trace, 'budget', async () => reserve());
          }
        } catch (error) {
          refused = { error };
        }
        try {
          grant = await granting;
        } catch (error) {
          // Refused by its rate limit: a reservation made meanwhile is given back, unspent.
          if (reserved instanceof Promise)
            reserved.then(
              (held) => held?.settle(UNSPENT),
              () => undefined,
            );
          else reserved?.settle(UNSPENT);
          throw error;
        }
        reply.headers(grant.headers);
        meter.countTokens = grant.countsTokens;
        if (refused !== null) throw refused.error;
        hold = reserved instanceof Promise ? await reserved : reserved;
      } finally {
        // Refused (or failed): nothing may stay held. Else the slot, if there was one free.
        lease = tried instanceof Promise ? await tried.catch(() => null) : tried;
      }
      if (hold !== null) {
        reply.headers(hold.headers);
        // Budgets settle a stream cut short at what it produced: count it as it goes.
        meter.countTokens = true;
      }
      if (lease === null && scopes.length > 0) {
        // No backend slot is held while the request waits for its key's or team's.
        state.preparedSlot?.discard();
        state.preparedSlot = null;
        lease = await context.slots.acquire(scopes, {
          priority: key.priority,
          signal: call.signal,
          timeoutMs: context.config.concurrency.queueTimeoutMs,
        });
      }
      if (stream) {
        const assembler = lookup.collects ? new CompletionAssembler() : null;
        const answered = await streamCompletion(
          request,
          reply,
          body,
          plan,
          call,
          context,
          meter,
          assembler,
          output,
        );
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
          adapter.chat(
            { ...body, model: upstreamModel },
            { ...attemptCall, onDropped: droppedHeader(reply) },
          ),
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
      return await reply.type(output.contentType).send(await output.answer(completion));
    } finally {
      // Refused or failed before its first attempt took it.
      state.preparedSlot?.discard();
      state.preparedSlot = null;
      void lease?.release();
      call?.close();
      // Counting a prompt needs the tokenizer: only for a token limit or a budget to settle.
      const countsTokens = grant?.countsTokens === true;
      const used = countsTokens || hold !== null ? tokensUsed(request, body, meter) : 0;
      if (countsTokens) grant?.settle(used);
      if (hold !== null) {
        // A stream cut short reported no usage: it is settled at what the gateway counted of it.
        const reported = state.promptTokens !== null && state.completionTokens !== null;
        const cost =
          reported || !meter.started
            ? requestCost(context.prices, state)
            : countedCost(context.prices, state, used - meter.producedTokens, meter.producedTokens);
        hold.settle({ usdMicros: cost ?? 0, tokens: used });
      }
    }
  } finally {
    // No-op once complete() ran; otherwise requests waiting on this one go upstream themselves.
    lookup.abandon();
  }
}

/** Sends a stored (or shared) answer: the protocol's JSON, or replayed as its stream. */
async function sendStored(
  request: FastifyRequest,
  reply: FastifyReply,
  entry: CachedEntry,
  stream: boolean,
  output: ProtocolOutput,
): Promise<FastifyReply> {
  if (!stream) return reply.type(output.contentType).send(await output.stored(entry));
  const fresh = { ...(entry.body as ChatCompletion), id: completionId(), created: nowSeconds() };
  const framing = output.stream();
  const writer = new SseWriter(reply.raw);
  reply.hijack();
  writer.open(reply.getHeaders(), framing.contentType);
  request.gateway.firstByteAt = process.hrtime.bigint();
  try {
    for (const chunk of replayChunks(fresh, true)) await writer.frames(framing.chunk(chunk));
    await writer.frames(await framing.end());
  } catch (error) {
    const gatewayError = toGatewayError(error, request, 0);
    await writer.frames(framing.error(gatewayError, requestPath(request), request.id));
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
 * failure becomes the protocol's last error frame. Returns who answered when the stream completed, else
 * null.
 */
async function streamCompletion(
  request: FastifyRequest,
  reply: FastifyReply,
  body: ChatCompletionRequest,
  plan: RoutePlan,
  call: UpstreamCall,
  context: GatewayContext,
  meter: StreamMeter,
  assembler: CompletionAssembler | null,
  output: ProtocolOutput,
): Promise<{ backend: string; primary: boolean } | null> {
  const framing: StreamOutput = output.stream();
  const writer = new SseWriter(reply.raw, framing.comments ? KEEP_ALIVE_MS : 0);
  // An upstream's keep-alive comments go to the client once the stream is open (dropped before).
  const onComment = framing.comments
    ? (text: string): void => {
        writer.comment(text);
      }
    : undefined;
  // Awaited before anything is sent: a failure here is still an ordinary error response.
  const attempt = await context.attempts.open(
    plan,
    call,
    request.gateway,
    async (adapter, upstreamModel, attemptCall): Promise<StreamStart> => {
      const chunks = await adapter.chatStream(
        { ...body, model: upstreamModel },
        { ...attemptCall, onComment, onDropped: droppedHeader(reply) },
      );
      const iterator = chunks[Symbol.asyncIterator]();
      return { iterator, first: await iterator.next() };
    },
  );
  meter.started = true;
  const { iterator } = attempt.value;
  let next = attempt.value.first;
  const prompts = context.config.promptLogging;
  const logged = prompts.enabled ? new TextCollector(prompts.maxBytes + 1024) : null;
  setRoutingHeaders(reply, request.gateway);
  reply.hijack();
  writer.open(reply.getHeaders(), framing.contentType);
  request.gateway.firstByteAt = process.hrtime.bigint();
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
          const delta = choice.delta as {
            content?: unknown;
            reasoning_content?: unknown;
            reasoning?: unknown;
          };
          if (typeof delta.content === 'string') meter.producedTokens += countTextTokens(delta.content);
          // Reasoning is output too: a stream cut before its usage is settled with it.
          const reasoning = delta.reasoning_content ?? delta.reasoning;
          if (typeof reasoning === 'string') meter.producedTokens += countTextTokens(reasoning);
        }
      }
      await writer.frames(framing.chunk(chunk));
      if (writer.closed) throw new ClientClosedError();
      next = await iterator.next();
    }
    await writer.frames(await framing.end());
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
    await writer.frames(framing.error(gatewayError, requestPath(request), request.id));
    return null;
  } finally {
    // Ends the upstream body if the loop stopped early (the generator's own cleanup runs).
    if (next.done !== true) await iterator.return?.().catch(() => undefined);
    // What reached the client, complete or not.
    if (logged !== null) request.gateway.loggedAnswer = logged.toString();
    writer.end();
  }
}

/**
 * A backend with `drop_unsupported: true` dropped request fields it cannot honour: the client is told
 * which, in X-Gateway-Dropped-Fields (the answering attempt's list; a fallback's replaces an earlier one).
 */
function droppedHeader(reply: FastifyReply): (fields: readonly string[]) => void {
  return (fields) => {
    if (fields.length > 0) reply.header('x-gateway-dropped-fields', fields.join(', '));
    else reply.removeHeader('x-gateway-dropped-fields');
  };
}

/** The text of an answer's choices, for the prompt log. */
function answerText(completion: ChatCompletion): string {
  return completion.choices.map((choice) => choice.message.content ?? '').join('\n');
}
