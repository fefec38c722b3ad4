import { randomUUID } from 'node:crypto';

/** `chatcmpl-` and 32 hex characters. randomUUID draws from a cached entropy pool: no syscall per id. */
export function completionId(): string {
  return `chatcmpl-${randomUUID().replaceAll('-', '')}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
