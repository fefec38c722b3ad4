/**
 * The Responses API's stream: server-sent events, each `event: <type>` with `data: {type,
 * sequence_number, ...}`, as OpenAI sends them: response.created and response.in_progress, then for
 * each output item output_item.added, its content part's added / delta / done events (output_text,
 * reasoning_text, function_call_arguments) and output_item.done, then response.completed (or
 * response.incomplete) with the whole response. No `[DONE]`. A failure after the stream started is an
 * `error` event followed by response.failed.
 *
 * The response is stored (store: true) before its last event is written: a client that reads
 * response.completed can continue from it at once.
 */
import type { Answer, StreamEvent } from '../../conversation/model.js';
import type { GatewayError } from '../../errors/errors.js';
import type { ConversationProtocol, EventEncoder } from '../../pipeline/output.js';
import {
  finalState,
  OutputBuilder,
  responseObject,
  toResponse,
  type Json,
  type ResponseEcho,
  type WireEvent,
} from './from-conversation.js';

/** Stores a finished response (or does nothing for store: false); never throws. */
export type Persist = (response: Json) => Promise<void>;

/** The OpenAI error codes a failed response can carry (ResponseError.code) for the gateway's own. */
function responseErrorCode(error: GatewayError): string {
  return error.code === 'rate_limit_exceeded' ? 'rate_limit_exceeded' : 'server_error';
}

export class ResponsesEventEncoder implements EventEncoder {
  readonly contentType = 'text/event-stream; charset=utf-8';
  readonly comments = true;
  private sequence = 0;
  private started = false;
  private model: string;
  private readonly builder: OutputBuilder;

  constructor(
    private readonly echo: ResponseEcho,
    requestedModel: string,
    private readonly persist: Persist,
  ) {
    this.model = requestedModel;
    this.builder = new OutputBuilder(echo.id, echo.namespaced);
  }

  events(events: readonly StreamEvent[]): string {
    let out = '';
    for (const event of events) {
      if (event.type === 'start' && event.model !== '') this.model = event.model;
    }
    out += this.start();
    for (const wire of this.builder.add(events)) out += this.frame(wire);
    return out;
  }

  async end(answer: Answer): Promise<string> {
    let out = this.start();
    for (const wire of this.builder.finish()) out += this.frame(wire);
    const state = finalState(this.builder, this.model, answer.usage);
    const response = responseObject(this.echo, state);
    await this.persist(response);
    const type = state.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return out + this.frame({ type, response });
  }

  error(error: GatewayError, _instance: string, _requestId: string): string {
    let out = this.start();
    out += this.frame({ type: 'error', code: error.code, message: error.message, param: error.param });
    const response = responseObject(this.echo, {
      status: 'failed',
      model: this.model,
      output: this.builder.items,
      usage: this.builder.usage,
      error: { code: responseErrorCode(error), message: error.message },
    });
    return out + this.frame({ type: 'response.failed', response });
  }

  /** response.created and response.in_progress, once, before anything else. */
  private start(): string {
    if (this.started) return '';
    this.started = true;
    const response = responseObject(this.echo, { status: 'in_progress', model: this.model, output: [] });
    return (
      this.frame({ type: 'response.created', response }) +
      this.frame({ type: 'response.in_progress', response })
    );
  }

  private frame(event: WireEvent): string {
    const { type, ...rest } = event;
    const data = JSON.stringify({ type, sequence_number: this.sequence++, ...rest });
    return `event: ${type}\ndata: ${data}\n\n`;
  }
}

/** The Responses API over the conversation model: JSON answers and the event stream, both stored. */
export function responsesProtocol(
  echo: ResponseEcho,
  requestedModel: string,
  persist: Persist,
): ConversationProtocol {
  return {
    contentType: 'application/json',
    async answer(answer) {
      const response = toResponse(answer, echo, requestedModel);
      await persist(response);
      return JSON.stringify(response);
    },
    encoder: () => new ResponsesEventEncoder(echo, requestedModel, persist),
  };
}
