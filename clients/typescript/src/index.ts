/**
 * @ai-gateway/client: a TypeScript client for ai-gateway. Runs on Node 20+ and in browsers (fetch only).
 */
export { GatewayClient } from './client.js';
export { ChatCompletionStream } from './stream.js';
export {
  GatewayConnectionError,
  GatewayError,
  GatewayTimeoutError,
  type GatewayErrorInit,
} from './errors.js';
export type { FetchLike, GatewayClientOptions, RequestOptions } from './transport.js';
export { parseRateLimit, parseRetryAfter } from './headers.js';
export type * from './types.js';
export type { components, paths } from './generated/openapi.js';
