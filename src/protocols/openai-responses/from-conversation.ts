/**
 * The conversation model → the Responses API's `response` object. Output items are built from stream
 * events by one OutputBuilder, for a complete answer (its events replayed, conversation/events.ts) as
 * for a stream (stream-events.ts turns the builder's events into SSE): both give the same items, with
 * the same ids, in the same order. Pure.
 *
 * Items follow what the model produced: reasoning → a `reasoning` item (raw reasoning as `content`
 * reasoning_text: the models behind the gateway give their reasoning, not OpenAI's summaries), text →
 * a `message` with one `output_text` part, each tool call → a `function_call` item.
 */
import { answerEvents } from '../../conversation/events.js';
import type { Answer, FinishReason, StreamEvent, TokenLogprob, Usage } from '../../conversation/model.js';
import { itemId } from './ids.js';
import type { ResponsesRequest } from './schema.js';
import { namespaceNames } from './to-conversation.js';

export type Json = Record<string, unknown>;

/** An event of the Responses stream without its sequence_number (the encoder numbers them). */
export interface WireEvent extends Json {
  readonly type: string;
}

type OpenKind = 'message' | 'reasoning';

interface OpenItem {
  readonly kind: OpenKind;
  readonly index: number;
  readonly id: string;
  text: string;
  logprobs: TokenLogprob[];
}

interface OpenCall {
  readonly index: number;
  readonly id: string;
  readonly callId: string;
  readonly name: string;
  /** The namespace of a namespace tool's function (`name` is then its own name). */
  readonly namespace: string | undefined;
  arguments: string;
  done: boolean;
}

/** A token's log probability as output_text carries it (bytes always present, as OpenAI sends). */
function outputLogprob(logprob: TokenLogprob): Json {
  return {
    token: logprob.token,
    bytes: logprob.bytes ?? [...Buffer.from(logprob.token, 'utf8')],
    logprob: logprob.logprob,
    top_logprobs: (logprob.top_logprobs ?? []).map((top) => ({
      token: top.token,
      bytes: top.bytes ?? [...Buffer.from(top.token, 'utf8')],
      logprob: top.logprob,
    })),
  };
}

/** A token's log probability as a text delta event carries it. */
function deltaLogprob(logprob: TokenLogprob): Json {
  return {
    token: logprob.token,
    logprob: logprob.logprob,
    top_logprobs: (logprob.top_logprobs ?? []).map((top) => ({ token: top.token, logprob: top.logprob })),
  };
}

/**
 * Builds the output items from the events of choice 0 (a Responses request asks for one), and says
 * what happened as the stream's events: an item added, a delta, a part or an item done.
 */
export class OutputBuilder {
  /** Every item so far, each in its latest state. */
  readonly items: Json[] = [];
  finishReason: FinishReason | null = null;
  usage: Usage | undefined;
  private open: OpenItem | null = null;
  private readonly calls = new Map<number, OpenCall>();
  private lastCall: OpenCall | null = null;

  constructor(
    private readonly responseId: string,
    private readonly namespaced: ResponseEcho['namespaced'] = new Map(),
  ) {}

  /**
   * The Responses events for a batch of stream events (one upstream chunk). A chunk's log probabilities
   * come after its text in the batch and travel on that text's delta.
   */
  add(batch: readonly StreamEvent[]): WireEvent[] {
    const out: WireEvent[] = [];
    const logprobs = batch.flatMap((event) =>
      event.type === 'logprobs' && event.choice === 0 ? event.content : [],
    );
    let logprobsSent = false;
    for (const event of batch) {
      if (event.type === 'usage') {
        this.usage = event.usage;
        continue;
      }
      if (event.type === 'start' || event.choice !== 0) continue;
      switch (event.type) {
        case 'text': {
          const item = this.openItem('message', out);
          item.text += event.text;
          const attached = logprobsSent ? [] : logprobs;
          logprobsSent = true;
          item.logprobs.push(...attached);
          out.push({
            type: 'response.output_text.delta',
            item_id: item.id,
            output_index: item.index,
            content_index: 0,
            delta: event.text,
            logprobs: attached.map(deltaLogprob),
          });
          break;
        }
        case 'reasoning': {
          if (event.text === '') break;
          const item = this.openItem('reasoning', out);
          item.text += event.text;
          out.push({
            type: 'response.reasoning_text.delta',
            item_id: item.id,
            output_index: item.index,
            content_index: 0,
            delta: event.text,
          });
          break;
        }
        case 'tool_call_start': {
          this.closeOpen(out, 'completed');
          this.closeLastCall(out, 'completed');
          const index = this.items.length;
          const namespaced = this.namespaced.get(event.name);
          const call: OpenCall = {
            index,
            id: itemId(this.responseId, 'fc', index),
            callId: event.id,
            name: namespaced?.name ?? event.name,
            namespace: namespaced?.namespace,
            arguments: '',
            done: false,
          };
          this.calls.set(event.call, call);
          this.lastCall = call;
          const item = this.callItem(call, 'in_progress');
          this.items.push(item);
          out.push({ type: 'response.output_item.added', output_index: index, item });
          break;
        }
        case 'tool_call_delta': {
          const call = this.calls.get(event.call);
          // A delta for a call already closed (an upstream interleaving calls) cannot be streamed.
          if (call === undefined || call.done) break;
          call.arguments += event.arguments;
          out.push({
            type: 'response.function_call_arguments.delta',
            item_id: call.id,
            output_index: call.index,
            delta: event.arguments,
          });
          break;
        }
        case 'logprobs':
          // Without text in its batch: kept for the final item only.
          if (!logprobsSent && this.open?.kind === 'message') this.open.logprobs.push(...logprobs);
          logprobsSent = true;
          break;
        case 'finish':
          this.finishReason = event.reason;
          break;
      }
    }
    return out;
  }

  /** Closes what is still open: the events that end each item. */
  finish(): WireEvent[] {
    const out: WireEvent[] = [];
    const status = statusOf(this.finishReason) === 'incomplete' ? 'incomplete' : 'completed';
    this.closeOpen(out, status);
    this.closeLastCall(out, status);
    return out;
  }

  private openItem(kind: OpenKind, out: WireEvent[]): OpenItem {
    if (this.open?.kind === kind) return this.open;
    this.closeOpen(out, 'completed');
    this.closeLastCall(out, 'completed');
    const index = this.items.length;
    const item: OpenItem = {
      kind,
      index,
      id: itemId(this.responseId, kind === 'message' ? 'msg' : 'rs', index),
      text: '',
      logprobs: [],
    };
    this.open = item;
    const added =
      kind === 'message'
        ? { id: item.id, type: 'message', status: 'in_progress', content: [], role: 'assistant' }
        : { id: item.id, type: 'reasoning', summary: [], status: 'in_progress' };
    this.items.push(added);
    out.push({ type: 'response.output_item.added', output_index: index, item: added });
    out.push({
      type: 'response.content_part.added',
      item_id: item.id,
      output_index: index,
      content_index: 0,
      part:
        kind === 'message'
          ? { type: 'output_text', annotations: [], logprobs: [], text: '' }
          : { type: 'reasoning_text', text: '' },
    });
    return item;
  }

  private closeOpen(out: WireEvent[], status: 'completed' | 'incomplete'): void {
    const item = this.open;
    if (item === null) return;
    this.open = null;
    const common = { item_id: item.id, output_index: item.index, content_index: 0 };
    if (item.kind === 'message') {
      const part = {
        type: 'output_text',
        annotations: [],
        logprobs: item.logprobs.map(outputLogprob),
        text: item.text,
      };
      const done = { id: item.id, type: 'message', status, content: [part], role: 'assistant' };
      this.items[item.index] = done;
      out.push({
        type: 'response.output_text.done',
        ...common,
        text: item.text,
        logprobs: item.logprobs.map(deltaLogprob),
      });
      out.push({ type: 'response.content_part.done', ...common, part });
      out.push({ type: 'response.output_item.done', output_index: item.index, item: done });
      return;
    }
    const part = { type: 'reasoning_text', text: item.text };
    const done = { id: item.id, type: 'reasoning', summary: [], content: [part], status };
    this.items[item.index] = done;
    out.push({ type: 'response.reasoning_text.done', ...common, text: item.text });
    out.push({ type: 'response.content_part.done', ...common, part });
    out.push({ type: 'response.output_item.done', output_index: item.index, item: done });
  }

  private closeLastCall(out: WireEvent[], status: 'completed' | 'incomplete'): void {
    const call = this.lastCall;
    if (call === null) return;
    this.lastCall = null;
    call.done = true;
    const item = this.callItem(call, status);
    this.items[call.index] = item;
    out.push({
      type: 'response.function_call_arguments.done',
      item_id: call.id,
      output_index: call.index,
      name: call.name,
      arguments: call.arguments,
    });
    out.push({ type: 'response.output_item.done', output_index: call.index, item });
  }

  private callItem(call: OpenCall, status: string): Json {
    return {
      id: call.id,
      type: 'function_call',
      status,
      arguments: call.arguments,
      call_id: call.callId,
      name: call.name,
      ...(call.namespace === undefined ? {} : { namespace: call.namespace }),
    };
  }
}

export type ResponseStatus = 'completed' | 'incomplete' | 'failed' | 'in_progress';

export function statusOf(reason: FinishReason | null): 'completed' | 'incomplete' {
  return reason === 'length' || reason === 'content_filter' ? 'incomplete' : 'completed';
}

function usageOf(usage: Usage | undefined): Json | null {
  if (usage === undefined) return null;
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** What a response echoes of its request (OpenAI's defaults where the request left a field out). */
export interface ResponseEcho {
  readonly id: string;
  readonly createdAt: number;
  readonly fields: Json;
  /** The functions of namespace tools by the name the model calls them (to-conversation.ts). */
  readonly namespaced: ReadonlyMap<string, { readonly namespace: string; readonly name: string }>;
}

function functionToolEcho(tool: Json): Json {
  return {
    type: 'function',
    name: tool['name'],
    description: tool['description'] ?? null,
    parameters: tool['parameters'] ?? null,
    strict: tool['strict'] ?? null,
  };
}

/** The request's fields a response carries back, in OpenAI's order and with its defaults. */
export function echoOf(request: ResponsesRequest, id: string, createdAt: number): ResponseEcho {
  const format = request.text?.format ?? { type: 'text' };
  return {
    id,
    createdAt,
    namespaced: namespaceNames(request.tools),
    fields: {
      instructions: request.instructions ?? null,
      max_output_tokens: request.max_output_tokens ?? null,
      max_tool_calls: request.max_tool_calls ?? null,
      parallel_tool_calls: request.parallel_tool_calls ?? true,
      previous_response_id: request.previous_response_id ?? null,
      prompt_cache_key: request.prompt_cache_key ?? null,
      reasoning: {
        effort: request.reasoning?.effort ?? null,
        summary: request.reasoning?.summary ?? request.reasoning?.generate_summary ?? null,
      },
      safety_identifier: request.safety_identifier ?? null,
      store: request.store ?? true,
      temperature: request.temperature ?? null,
      text: {
        format,
        ...(request.text?.verbosity == null ? {} : { verbosity: request.text.verbosity }),
      },
      tool_choice: request.tool_choice ?? 'auto',
      tools: (request.tools ?? []).map((tool: Json) =>
        tool['type'] === 'namespace'
          ? { ...tool, tools: (tool['tools'] as Json[]).map(functionToolEcho) }
          : functionToolEcho(tool),
      ),
      top_logprobs: request.top_logprobs ?? 0,
      top_p: request.top_p ?? null,
      truncation: request.truncation ?? 'disabled',
      user: request.user ?? null,
      metadata: request.metadata ?? {},
    },
  };
}

export interface ResponseState {
  readonly status: ResponseStatus;
  /** Why an incomplete response stopped. */
  readonly incompleteReason?: 'max_output_tokens' | 'content_filter';
  readonly model: string;
  readonly output: readonly Json[];
  readonly usage?: Usage | undefined;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
}

/** The `response` object, its fields in the order OpenAI sends them. `output_text` is the SDKs' to add. */
export function responseObject(echo: ResponseEcho, state: ResponseState): Json {
  const { fields } = echo;
  return {
    id: echo.id,
    object: 'response',
    created_at: echo.createdAt,
    status: state.status,
    background: false,
    ...(state.status === 'completed' ? { completed_at: Math.floor(Date.now() / 1000) } : {}),
    error: state.error ?? null,
    incomplete_details:
      state.status === 'incomplete' ? { reason: state.incompleteReason ?? 'max_output_tokens' } : null,
    instructions: fields['instructions'],
    max_output_tokens: fields['max_output_tokens'],
    max_tool_calls: fields['max_tool_calls'],
    model: state.model,
    output: state.output,
    parallel_tool_calls: fields['parallel_tool_calls'],
    previous_response_id: fields['previous_response_id'],
    prompt_cache_key: fields['prompt_cache_key'],
    reasoning: fields['reasoning'],
    safety_identifier: fields['safety_identifier'],
    store: fields['store'],
    temperature: fields['temperature'],
    text: fields['text'],
    tool_choice: fields['tool_choice'],
    tools: fields['tools'],
    top_logprobs: fields['top_logprobs'],
    top_p: fields['top_p'],
    truncation: fields['truncation'],
    usage: usageOf(state.usage),
    user: fields['user'],
    metadata: fields['metadata'],
  };
}

/** The final state of a response whose output was built by `builder`. */
export function finalState(builder: OutputBuilder, model: string, usage: Usage | undefined): ResponseState {
  return {
    status: statusOf(builder.finishReason),
    ...(builder.finishReason === 'content_filter' ? { incompleteReason: 'content_filter' as const } : {}),
    model,
    output: builder.items,
    usage: usage ?? builder.usage,
  };
}

/** A complete answer as the `response` object. */
export function toResponse(answer: Answer, echo: ResponseEcho, requestedModel: string): Json {
  const builder = new OutputBuilder(echo.id, echo.namespaced);
  builder.add(answerEvents(answer));
  builder.finish();
  return responseObject(echo, finalState(builder, answer.model || requestedModel, answer.usage));
}
