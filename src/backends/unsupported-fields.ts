/**
 * What a backend cannot honour: a 400 naming the field and the fix, or, with the backend's
 * `drop_unsupported: true`, the field left out and named to the caller (UpstreamCall.onDropped, the
 * X-Gateway-Dropped-Fields header). Field names are client input: at most MAX_REPORTED_FIELDS of them
 * are reported, each cut to MAX_FIELD_NAME printable ASCII characters (no commas: the header lists them).
 */
import { InvalidRequestError } from '../errors/errors.js';

export const MAX_REPORTED_FIELDS = 32;
export const MAX_FIELD_NAME = 64;

export interface UnsupportedPolicy {
  /** The backend's name, for the message. */
  readonly backend: string;
  readonly dropUnsupported: boolean;
}

/** A field name as it may appear in a message or a header: cut, and anything not printable replaced. */
export function printable(name: string): string {
  const cut = name.length > MAX_FIELD_NAME ? `${name.slice(0, MAX_FIELD_NAME - 3)}...` : name;
  return cut.replace(/[^\x21-\x2b\x2d-\x7e]/g, '?');
}

export class UnsupportedFields {
  readonly dropped: string[] = [];

  constructor(
    private readonly policy: UnsupportedPolicy,
    /** The kind of backend, as the message names it (Ollama, Anthropic, Bedrock, Gemini). */
    private readonly provider: string,
  ) {}

  refuse(field: string, reason: string): void {
    const name = printable(field);
    const backend = this.policy.backend;
    if (!this.policy.dropUnsupported) {
      throw new InvalidRequestError(
        `Backend '${backend}' cannot honour '${name}': ${reason}. Remove it from the request, or set drop_unsupported: true on backend '${backend}' to have the gateway drop what ${this.provider} cannot honour`,
        { param: name },
      );
    }
    if (this.dropped.length < MAX_REPORTED_FIELDS && !this.dropped.includes(name)) this.dropped.push(name);
  }
}
