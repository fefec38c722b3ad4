import pino, { type Logger } from 'pino';

export interface LoggerOptions {
  readonly level: string;
  /** Human-readable lines (pino-pretty) instead of JSON; the CLI turns it on when stdout is a terminal. */
  readonly pretty: boolean;
}

/**
 * JSON lines on stdout, written asynchronously so that logging never blocks the event loop on a slow
 * terminal or pipe. Nothing the gateway logs carries a secret by construction; the redaction list is a
 * second line of defence.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: { service: 'ai-gateway' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        'api_key',
        'apiKey',
        'key',
        'token',
        '*.authorization',
        '*.api_key',
        '*.key',
        '*.token',
      ],
      censor: '[redacted]',
    },
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino(base, pino.destination({ dest: 1, sync: false }));
}
