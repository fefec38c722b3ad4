import type { GatewayConfig } from '../config/config.js';

const REDACTED = '[REDACTED]';
/** Extra characters kept beyond the cap before redaction, so that a secret cut by the cap still matches. */
const REDACTION_MARGIN = 1024;

/**
 * A prompt or answer as it may appear in the log when `logging.prompts.enabled` is on: every match of
 * the configured patterns replaced, then cut to `max_bytes` (UTF-8) with a marker saying so.
 */
export function promptForLog(text: string, config: GatewayConfig['promptLogging']): string {
  const cut = text.length > config.maxBytes + REDACTION_MARGIN;
  let kept = cut ? text.slice(0, config.maxBytes + REDACTION_MARGIN) : text;
  for (const pattern of config.redact) kept = kept.replace(pattern, REDACTED);
  const bytes = Buffer.from(kept, 'utf8');
  if (bytes.length <= config.maxBytes) return cut ? `${kept}…[truncated]` : kept;
  // Cut on a character boundary: a partial UTF-8 sequence at the end decodes to U+FFFD, dropped here.
  return `${bytes
    .subarray(0, config.maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '')}…[truncated]`;
}

/** Collects streamed text up to a bound, for the log. */
export class TextCollector {
  private text = '';
  constructor(private readonly limit: number) {}

  add(piece: string): void {
    if (this.text.length < this.limit) this.text += piece.slice(0, this.limit - this.text.length);
  }

  toString(): string {
    return this.text;
  }
}
