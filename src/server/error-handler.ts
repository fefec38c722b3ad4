import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  ClientClosedError,
  GatewayError,
  InternalError,
  InvalidRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  toProblem,
} from '../errors/errors.js';
import { lingerBounds, lingerUntilBodyRead } from './lingering-close.js';
import { describeValidationErrors } from './validation-message.js';
import { requestPath, setRoutingHeaders } from './request-state.js';

/** Maps anything thrown in the pipeline (ours, Fastify's, or a bug) to a GatewayError. */
export function toGatewayError(error: unknown, request: FastifyRequest, bodyLimit: number): GatewayError {
  if (error instanceof GatewayError) return error;
  const fastifyError = error as Partial<FastifyError> | null;
  if (fastifyError?.validation !== undefined) {
    const { detail, firstField } = describeValidationErrors(fastifyError.validation);
    return new InvalidRequestError(detail, { param: firstField });
  }
  switch (fastifyError?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLargeError(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaTypeError(request.headers['content-type']);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidRequestError('The request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidRequestError('Content-Length does not match the body');
    case undefined:
    default:
      break;
  }
  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (bad URL, aborted body...): their messages carry no internals.
    return new InvalidRequestError(fastifyError?.message ?? 'Bad request', {
      status: status === 413 ? 413 : 400,
    });
  }
  return new InternalError(error);
}

/**
 * How a protocol's routes shape an error body (Anthropic's `{"type":"error",...}`, Ollama's
 * `{"error":"..."}`): set as the route's `config.errorShape`. Routes without one answer problem+json.
 */
export type ErrorShape = (
  error: GatewayError,
  instance: string,
  requestId: string,
) => { readonly contentType: string; readonly body: string };

export interface ProtocolRouteConfig {
  readonly errorShape?: ErrorShape;
}

export function sendProblem(reply: FastifyReply, error: GatewayError): FastifyReply {
  const request = reply.request;
  request.gateway.errorCode = error.code;
  setRoutingHeaders(reply, request.gateway);
  const shape = (request.routeOptions.config as ProtocolRouteConfig | undefined)?.errorShape;
  // Refused before its body arrived (401 and 429 are decided on the headers, 413 on its length or as it
  // passes the limit): the connection is not kept for a body nobody will read, so a client dripping a
  // large body cannot hold it (issue 16, finding 3); the rest of the body is read, within bounds, before
  // it closes, so that the client reads this answer (issue 17, item 3).
  if (!request.raw.complete) {
    reply.header('connection', 'close');
    lingerUntilBodyRead(request.raw, reply.raw, lingerBounds(reply.server.initialConfig.bodyLimit ?? 0));
  }
  reply.code(error.status).headers(error.headers);
  if (shape !== undefined) {
    const { contentType, body } = shape(error, requestPath(request), request.id);
    return reply.type(contentType).send(body);
  }
  const problem = toProblem(error, requestPath(request), request.id);
  return reply.type('application/problem+json').send(JSON.stringify(problem));
}

export function buildErrorHandler(bodyLimit: number) {
  return function errorHandler(
    error: unknown,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply | undefined {
    if (error instanceof ClientClosedError || reply.raw.destroyed) {
      request.gateway.outcome = 'client_closed';
      reply.hijack();
      return undefined;
    }
    const gatewayError = toGatewayError(error, request, bodyLimit);
    if (gatewayError instanceof InternalError) {
      request.log.error({ err: gatewayError.cause }, 'unhandled error');
    }
    return sendProblem(reply, gatewayError);
  };
}
