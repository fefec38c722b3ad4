import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem, toGatewayError } from './error-handler.js';
import { newRequestState } from './request-state.js';

/**
 * Fastify answers a URL it cannot decode (`/admin/keys/%`: FST_ERR_BAD_URL) and a path parameter longer
 * than its maxParamLength (FST_ERR_MAX_PARAM_LENGTH) by itself, in a JSON shape of its own and before
 * any hook has run. Fastify's frameworkErrors option hands them here, so that they are problem+json with
 * a request id like every other error (found by test/e2e/fuzz.test.ts).
 */
export function frameworkErrorHandler(bodyLimit: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    // No onRequest hook ran: the state the error handler writes to does not exist yet.
    request.gateway = newRequestState();
    reply.header('x-request-id', request.id);
    void sendProblem(reply, toGatewayError(error, request, bodyLimit));
  };
}
