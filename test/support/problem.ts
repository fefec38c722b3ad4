/**
 * The problem+json body of every gateway error as a client receives it (CONTRACT.md, "Errors"): RFC 9457
 * problem details plus OpenAI's `error` member. Written from the contract, not imported from src/, so
 * that the tests state the wire shape independently of the implementation.
 */

/** A problem+json body as parsed from the wire; the tests' own assertions check each member. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id: string;
  error: { message: string; type: string; code: string; param: string | null };
}
