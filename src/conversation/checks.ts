/**
 * Checks the ingress translators share: a number field within bounds, or a 400 naming the field and
 * what to send instead. Pure.
 */
import { InvalidRequestError } from '../errors/errors.js';

/** What a number field must be: an integer or any finite number, within optional bounds. */
export interface NumberBounds {
  readonly integer?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/**
 * `value` when it is absent (undefined, null) or a number within `bounds`; otherwise an
 * InvalidRequestError whose message names `param` (e.g. "'options.top_k' must be an integer of at
 * least 0").
 */
export function checkedNumber(value: unknown, param: string, bounds: NumberBounds): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (bounds.integer !== true || Number.isInteger(value)) &&
    (bounds.min === undefined || value >= bounds.min) &&
    (bounds.max === undefined || value <= bounds.max);
  if (ok) return value;
  const kind = bounds.integer === true ? 'an integer' : 'a number';
  const range =
    bounds.min === undefined && bounds.max === undefined
      ? ''
      : bounds.max === undefined
        ? ` of at least ${bounds.min}`
        : ` from ${bounds.min ?? 0} to ${bounds.max}`;
  throw new InvalidRequestError(`'${param}' must be ${kind}${range}`, { param });
}
