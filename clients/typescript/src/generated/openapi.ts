/**
 * Generated from the gateway's OpenAPI document (GET /openapi.json) by openapi-typescript.
 * Do not edit by hand: run `npm run clients:generate` at the repository's root after changing the API.
 */

export interface paths {
  '/v1/chat/completions': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create a chat completion
     * @description OpenAI chat completions. With `stream: true` the answer is server-sent events of chat.completion.chunk objects ending in `data: [DONE]`; an error after the stream started is a last `data: {"error": {...}}` event.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description OpenAI chat completion request; unknown fields are passed to OpenAI-compatible backends */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            messages: {
              /** @description Who wrote the message */
              role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';
              content?:
                | string
                | {
                    /** @description text, image_url, input_audio, ... */
                    type: string;
                  }[]
                | null;
              name?: string;
              tool_calls?: Record<string, unknown>[];
              tool_call_id?: string;
            }[];
            stream?: boolean | null;
            stream_options?: {
              include_usage?: boolean;
            } | null;
            temperature?: number | null;
            top_p?: number | null;
            n?: number | null;
            max_tokens?: number | null;
            max_completion_tokens?: number | null;
            stop?: string | string[] | null;
            seed?: number | null;
            presence_penalty?: number | null;
            frequency_penalty?: number | null;
            tools?: {
              type: string;
            }[];
            tool_choice?: string | Record<string, unknown>;
            response_format?: {
              type: string;
            };
            user?: string;
          };
        };
      };
      responses: {
        /** @description The completion (JSON), or its chunks (server-sent events) */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              id: string;
              /** @enum {string} */
              object: 'chat.completion';
              created: number;
              model: string;
              choices: {
                index: number;
                message: {
                  /** @enum {string} */
                  role: 'assistant';
                  content: string | null;
                  tool_calls?: {
                    id: string;
                    /** @enum {string} */
                    type: 'function';
                    function: {
                      name: string;
                      arguments: string;
                    };
                  }[];
                };
                finish_reason: string | null;
              }[];
              usage?: {
                prompt_tokens: number;
                completion_tokens: number;
                total_tokens: number;
              };
              /** @description true when the answer came from the gateway cache */
              cached?: boolean;
            };
            'text/event-stream': string;
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/embeddings': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Create embeddings */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            model: string;
            input: string | string[] | number[] | number[][];
            encoding_format?: 'float' | 'base64';
            dimensions?: number;
            user?: string;
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              object: 'list';
              data: {
                /** @enum {string} */
                object: 'embedding';
                index: number;
                embedding: number[] | string;
              }[];
              model: string;
              usage: {
                prompt_tokens: number;
                total_tokens: number;
              };
              cached?: boolean;
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/models': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List the models this key may use */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              object: 'list';
              data: {
                id: string;
                /** @enum {string} */
                object: 'model';
                created: number;
                owned_by: string;
              }[];
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/v1/models/{model}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Retrieve a model this key may use
     * @description The model as `GET /v1/models` lists it. The id is the rest of the path and may contain `/` and `:` (`/v1/models/meta-llama/Llama-3.1-8B`, `/v1/models/llama3.2:3b`), as is or percent-encoded. A model this key may not use is answered 404 `model_not_found`, as one that does not exist.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          /** @description The model id; may contain `/` and `:`, as is or percent-encoded */
          model: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              id: string;
              /** @enum {string} */
              object: 'model';
              created: number;
              owned_by: string;
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/health/live': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Liveness: 200 while the process serves */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              status: 'alive';
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/health/ready': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Readiness: 200 when every check passes, else 503; each check with its detail for the admin token only */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              status: 'healthy' | 'unhealthy';
              checks: {
                [key: string]: {
                  status: string;
                  detail?: string;
                };
              };
            };
          };
        };
        /** @description Default Response */
        503: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              status: 'healthy' | 'unhealthy';
              checks: {
                [key: string]: {
                  status: string;
                  detail?: string;
                };
              };
            };
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/keys': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List API keys (never their secrets) */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              data: components['schemas']['ApiKey'][];
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    put?: never;
    /** Create an API key; the answer is the only time the key is shown */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            name: string;
            /** @description Allow-list of model patterns */
            models?: string[] | null;
            rate_limit?: {
              requests?: string | string[];
              tokens?: string | string[];
            } | null;
            expires_at?: string | null;
            /** @description Free-form labels such as team or owner */
            metadata?: {
              [key: string]: string;
            };
          };
        };
      };
      responses: {
        /** @description Default Response */
        201: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              id: string;
              name: string;
              created_at: string | null;
              expires_at: string | null;
              revoked_at: string | null;
              models: string[] | null;
              rate_limit: {
                requests?: string | string[];
                tokens?: string | string[];
              } | null;
              metadata: {
                [key: string]: string;
              };
              /** @description config: a static key of the config file (read-only here); store: created at run time */
              source: 'config' | 'store';
              /** @description The secret: shown in this answer only, never again */
              key: string;
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/keys/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Show one API key */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': components['schemas']['ApiKey'];
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    put?: never;
    post?: never;
    /** Revoke a key: refused by every instance within 1 s */
    delete: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': components['schemas']['ApiKey'];
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    options?: never;
    head?: never;
    /** Change a key: name, models, rate_limit, expires_at, metadata (null clears) */
    patch: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          id: string;
        };
        cookie?: never;
      };
      requestBody: {
        content: {
          'application/json': {
            name?: string;
            models?: string[] | null;
            rate_limit?: {
              requests?: string | string[];
              tokens?: string | string[];
            } | null;
            expires_at?: string | null;
            /** @description Free-form labels such as team or owner */
            metadata?: {
              [key: string]: string;
            };
          };
        };
      };
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': components['schemas']['ApiKey'];
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    trace?: never;
  };
  '/admin/cache': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    post?: never;
    /** Purge the response cache: all of it, or one key's scope (?key=ID) */
    delete: {
      parameters: {
        query?: {
          key?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              deleted: number;
            };
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/usage': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Usage per key, model, day or hour: requests, errors, cached answers, tokens, cost
     * @description Counted per UTC hour by every instance (Redis) or this one (SQLite); an instance sends its counters every second, and this one sends its own before answering. `Accept: text/csv` gives CSV (RFC 4180) with the same columns: the group_by columns, then the counters.
     */
    get: {
      parameters: {
        query?: {
          /** @description Only this key id */
          key?: string;
          /** @description Only this model (the name clients sent); a pattern as in models[].name: exact, prefix* or * */
          model?: string;
          /** @description Start, inclusive: an ISO 8601 date (2026-11-27, midnight UTC) or date-time (UTC without an offset), or a time before now (24h, 7d). Hours that start in [from, to) count. Default: 24 hours before to */
          from?: string;
          /** @description End, exclusive; same forms as from. Default: now. At most 400 days after from */
          to?: string;
          /** @description key, model, day (UTC), hour (UTC), or several comma-separated (key,day); empty: one row of totals. Default: key,model */
          group_by?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description The rows, sorted by the group_by columns (days and hours oldest first) */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              data: components['schemas']['UsageRow'][];
              /**
               * Format: date-time
               * @description The start used, inclusive
               */
              from: string;
              /**
               * Format: date-time
               * @description The end used, exclusive
               */
              to: string;
            };
            'text/csv': string;
          };
        };
        /** @description A client error, as RFC 9457 problem details */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
        /** @description A gateway or upstream error, as RFC 9457 problem details */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/problem+json': components['schemas']['Problem'];
          };
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/metrics': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Prometheus metrics (text format) */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content?: never;
        };
      };
    };
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
}
export type webhooks = Record<string, never>;
export interface components {
  schemas: {
    /** @description RFC 9457 problem details, with an OpenAI-style error member */
    Problem: {
      /** Format: uri */
      type: string;
      title: string;
      status: number;
      detail: string;
      instance: string;
      request_id: string;
      error: {
        message: string;
        type: string;
        code: string;
        param: string | null;
      };
    };
    ApiKey: {
      id: string;
      name: string;
      created_at: string | null;
      expires_at: string | null;
      revoked_at: string | null;
      models: string[] | null;
      rate_limit: {
        requests?: string | string[];
        tokens?: string | string[];
      } | null;
      metadata: {
        [key: string]: string;
      };
      /** @description config: a static key of the config file (read-only here); store: created at run time */
      source: 'config' | 'store';
    };
    UsageRow: {
      /** @description The key id (grouped by key) */
      key?: string;
      /** @description The model the clients asked for (grouped by model) */
      model?: string;
      /** @description YYYY-MM-DD, UTC (grouped by day) */
      day?: string;
      /** @description YYYY-MM-DDTHH:00:00Z (grouped by hour) */
      hour?: string;
      requests: number;
      /** @description Answered with a status of 400 or more, or a stream that failed */
      errors: number;
      /** @description Answered from the response cache */
      cached: number;
      prompt_tokens: number;
      completion_tokens: number;
      total_tokens: number;
      /** @description Estimated from usage.prices, in the price table's currency; null when no price applies */
      cost: number | null;
    };
  };
  responses: never;
  parameters: never;
  requestBodies: never;
  headers: never;
  pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
