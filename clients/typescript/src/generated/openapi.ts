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
  '/v1/messages': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create a message (Anthropic Messages API)
     * @description Anthropic's Messages API over the gateway's models, for Claude Code and Anthropic's SDKs. The key goes in `x-api-key` or `Authorization: Bearer`; `anthropic-version` and `anthropic-beta` are accepted and ignored. With `stream: true` the answer is Anthropic's server-sent events (message_start, ping, content_block_start/delta/stop, message_delta, message_stop); an error after the stream started is a last `event: error`. Errors are `{"type":"error","error":{"type","message"},"request_id"}`. What is mapped and what is refused: docs/protocols/anthropic-messages.md.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Anthropic's Messages API request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            messages: {
              role: 'user' | 'assistant' | 'system';
              /** @description A string, or content blocks */
              content:
                | string
                | {
                    /** @description text, image, tool_use, tool_result, ... */
                    type: string;
                  }[];
            }[];
            /** @description A string, or content blocks */
            system?:
              | string
              | {
                  /** @description text, image, tool_use, tool_result, ... */
                  type: string;
                }[];
            tools?: Record<string, unknown>[];
            tool_choice?: {
              /** @description auto, any, tool or none */
              type: string;
            };
            thinking?: {
              /** @description enabled (with budget_tokens), disabled or adaptive */
              type: string;
            };
            /** @description effort, format (a JSON schema) */
            output_config?: Record<string, unknown>;
            /** @description Required, as Anthropic requires it */
            max_tokens: number;
            stream?: boolean;
            stop_sequences?: string[];
            temperature?: number;
            top_p?: number;
            top_k?: number;
            metadata?: {
              user_id?: string | null;
            };
          };
        };
      };
      responses: {
        /** @description The message (JSON), or its events (server-sent events) */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              id: string;
              /** @enum {string} */
              type: 'message';
              /** @enum {string} */
              role: 'assistant';
              model: string;
              content: {
                /** @description thinking, redacted_thinking, text or tool_use */
                type: string;
              }[];
              stop_reason: string | null;
              stop_sequence: string | null;
              usage: {
                input_tokens: number;
                output_tokens: number;
                cache_creation_input_tokens: number | null;
                cache_read_input_tokens: number | null;
              };
            };
            'text/event-stream': string;
          };
        };
        /** @description A client error, in Anthropic's error shape */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              type: 'error';
              error: {
                type: string;
                message: string;
              };
              request_id: string;
            };
          };
        };
        /** @description A gateway or upstream error, in Anthropic's error shape */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              type: 'error';
              error: {
                type: string;
                message: string;
              };
              request_id: string;
            };
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
  '/v1/messages/count_tokens': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Count the tokens of a message request (Anthropic Messages API)
     * @description The prompt's tokens (messages, system prompt, tools) counted by the gateway's tokenizer (o200k_base): an estimate for the models behind it, whose tokenizers differ; images are not counted. No upstream is called. The key's model allow-list applies, and the request counts against the key's request limits (not its token limits), as a cache hit does.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Anthropic's token counting request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            messages: {
              role: 'user' | 'assistant' | 'system';
              /** @description A string, or content blocks */
              content:
                | string
                | {
                    /** @description text, image, tool_use, tool_result, ... */
                    type: string;
                  }[];
            }[];
            /** @description A string, or content blocks */
            system?:
              | string
              | {
                  /** @description text, image, tool_use, tool_result, ... */
                  type: string;
                }[];
            tools?: Record<string, unknown>[];
            tool_choice?: {
              /** @description auto, any, tool or none */
              type: string;
            };
            thinking?: {
              /** @description enabled (with budget_tokens), disabled or adaptive */
              type: string;
            };
            /** @description effort, format (a JSON schema) */
            output_config?: Record<string, unknown>;
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
              input_tokens: number;
            };
          };
        };
        /** @description A client error, in Anthropic's error shape */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              type: 'error';
              error: {
                type: string;
                message: string;
              };
              request_id: string;
            };
          };
        };
        /** @description A gateway or upstream error, in Anthropic's error shape */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @enum {string} */
              type: 'error';
              error: {
                type: string;
                message: string;
              };
              request_id: string;
            };
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
  '/api/chat': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Ollama: chat
     * @description Ollama's /api/chat. Streams NDJSON unless `stream: false`: a line per delta, each tool call whole on its own line, a last line with `done: true`; an error after the stream started is a last `{"error": ...}` line. No messages: Ollama's load call, answered at once.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Ollama's chat request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            /** @description role system, user, assistant or tool; content; images (base64); tool_calls; tool_name; thinking */
            messages?: ({
              role: string;
            } & {
              [key: string]: unknown;
            })[];
            tools?: {
              [key: string]: unknown;
            }[];
            /** @description "json" or a JSON schema */
            format?: unknown;
            /** @description Ollama's model options */
            options?: {
              [key: string]: unknown;
            };
            /** @description true, false, "low", "medium" or "high" */
            think?: unknown;
            keep_alive?: unknown;
            /** @description true (the default): NDJSON lines */
            stream?: boolean | null;
          } & {
            [key: string]: unknown;
          };
        };
      };
      responses: {
        /** @description The answer (JSON), or its NDJSON lines */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
            'application/x-ndjson': string;
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
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
  '/api/generate': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Ollama: generate
     * @description Ollama's /api/generate: the prompt goes to the backend as one user message (its chat template applies, also with `raw`). `suffix`, `template` and `context` are refused. An empty prompt is Ollama's load call, answered at once.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Ollama's generate request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            /** @description Empty: load the model (answered at once) */
            prompt?: string;
            system?: string;
            /** @description Refused unless empty (fill in the middle) */
            suffix?: string;
            images?: string[];
            format?: unknown;
            /** @description Ollama's model options */
            options?: {
              [key: string]: unknown;
            };
            think?: unknown;
            raw?: boolean;
            keep_alive?: unknown;
            /** @description true (the default): NDJSON lines */
            stream?: boolean | null;
          } & {
            [key: string]: unknown;
          };
        };
      };
      responses: {
        /** @description The answer (JSON), or its NDJSON lines */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
            'application/x-ndjson': string;
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
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
  '/api/embed': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Ollama: embed
     * @description Ollama's /api/embed, through the gateway's embeddings pipeline. `truncate`, `options` and `keep_alive` are accepted and not forwarded: each backend truncates (or refuses) as it does by default.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Ollama's embed request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            input: string | string[];
            truncate?: boolean;
            dimensions?: number;
            /** @description Ollama's model options */
            options?: {
              [key: string]: unknown;
            };
            keep_alive?: unknown;
          } & {
            [key: string]: unknown;
          };
        };
      };
      responses: {
        /** @description {model, embeddings, ...} */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
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
  '/api/embeddings': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Ollama: embeddings (older)
     * @description Ollama's older /api/embeddings: one prompt, one `embedding`.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description Ollama's older embeddings request */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            prompt: string;
            /** @description Ollama's model options */
            options?: {
              [key: string]: unknown;
            };
            keep_alive?: unknown;
          } & {
            [key: string]: unknown;
          };
        };
      };
      responses: {
        /** @description {embedding} */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
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
  '/api/tags': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Ollama: the models this key may use
     * @description The names GET /v1/models lists, in Ollama's form. Size, digest and details are placeholders: the gateway routes names and does not know the weights behind them.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description {models: [...]} */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
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
  '/api/show': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Ollama: show a model
     * @description A model this key may use: placeholder details, and the capabilities the gateway carries (completion, tools, vision); 404 {"error": "model 'x' not found"} otherwise.
     */
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
            /** @description A model name routed by the gateway */
            model?: string;
            /** @description The older name of `model` */
            name?: string;
          } & {
            [key: string]: unknown;
          };
        };
      };
      responses: {
        /** @description The model */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
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
  '/api/ps': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Ollama: running models (none: the gateway loads nothing) */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description {models: []} */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
            };
          };
        };
        /** @description A client error, as Ollama writes it: {"error": "..."} */
        '4XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
            };
          };
        };
        /** @description A gateway or upstream error: {"error": "..."} */
        '5XX': {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              error: string;
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
  '/api/version': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Ollama: version
     * @description Always 0.12.11: an Ollama version whose features the gateway carries, so that clients enable them. No key needed, as with Ollama.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description {version} */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              [key: string]: unknown;
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
  '/': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Ollama: "Ollama is running"
     * @description What Ollama answers on its root, which Open WebUI and ollama-js probe. No key needed.
     */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Ollama is running */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'text/plain': string;
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
  '/v1/completions': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create a completion (legacy)
     * @description OpenAI legacy completions. The prompt goes to the backend as one user message, so its chat template applies. One prompt per request; `suffix`, `echo` and `best_of` above 1 are refused. With `stream: true` the answer is server-sent events of text_completion chunks ending in `data: [DONE]`.
     */
    post: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      /** @description OpenAI legacy completion request; unknown fields are passed to OpenAI-compatible backends */
      requestBody: {
        content: {
          'application/json': {
            /** @description A model name routed by the gateway */
            model: string;
            /** @description A string, or an array of one string (several prompts and token ids are refused) */
            prompt: string | unknown[];
            /** @default 16 */
            max_tokens?: number | null;
            temperature?: number | null;
            top_p?: number | null;
            n?: number | null;
            stream?: boolean | null;
            stream_options?: {
              include_usage?: boolean;
            } | null;
            logprobs?: number | null;
            /** @description Refused when true */
            echo?: boolean | null;
            stop?: string | string[] | null;
            /** @description Refused unless empty */
            suffix?: string | null;
            /** @description Refused above 1 */
            best_of?: number | null;
            seed?: number | null;
            presence_penalty?: number | null;
            frequency_penalty?: number | null;
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
              object: 'text_completion';
              created: number;
              model: string;
              choices: {
                text: string;
                index: number;
                logprobs: {
                  [key: string]: unknown;
                } | null;
                finish_reason: string | null;
              }[];
              usage?: {
                prompt_tokens: number;
                completion_tokens: number;
                total_tokens: number;
              };
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
  '/v1/responses': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /**
     * Create a model response (OpenAI Responses API)
     * @description OpenAI Responses over any backend: input as text or items (messages, function calls and their outputs, reasoning, item references), instructions, function tools, text.format, previous_response_id. With `stream: true` the answer is server-sent events (`event: response.created` … `response.completed`); an error after the stream started is an `error` event then `response.failed`. Hosted tools, files, background runs and unknown fields are refused (400 naming the field). Responses are stored (store: true, the default) under the API key for responses.store_ttl_seconds.
     */
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
            /** @description A model name routed by the gateway */
            model: string;
            /** @description Text, or a list of input items */
            input?: string | Record<string, unknown>[];
            instructions?: string | null;
            previous_response_id?: string | null;
            store?: boolean | null;
            stream?: boolean | null;
            stream_options?: {
              include_obfuscation?: boolean;
            } | null;
            tools?: Record<string, unknown>[];
            tool_choice?: string | Record<string, unknown>;
            parallel_tool_calls?: boolean | null;
            max_output_tokens?: number | null;
            max_tool_calls?: number | null;
            temperature?: number | null;
            top_p?: number | null;
            top_logprobs?: number | null;
            text?: {
              format?: {
                type: string;
              };
              verbosity?: ('low' | 'medium' | 'high') | null;
            };
            reasoning?: {
              effort?: ('none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max') | null;
              summary?: ('auto' | 'concise' | 'detailed') | null;
              generate_summary?: ('auto' | 'concise' | 'detailed') | null;
              context?: string | null;
              mode?: string | null;
            } | null;
            include?:
              | (
                  | 'reasoning.encrypted_content'
                  | 'message.output_text.logprobs'
                  | 'message.input_image.image_url'
                  | 'file_search_call.results'
                  | 'web_search_call.results'
                  | 'web_search_call.action.sources'
                  | 'computer_call_output.output.image_url'
                  | 'code_interpreter_call.outputs'
                )[]
              | null;
            metadata?: {
              [key: string]: string;
            } | null;
            user?: string;
            safety_identifier?: string | null;
            truncation?: ('auto' | 'disabled') | null;
            service_tier?: string | null;
            prompt_cache_key?: string | null;
            prompt_cache_retention?: string | null;
            prompt_cache_options?: Record<string, unknown> | null;
            client_metadata?: {
              [key: string]: string;
            } | null;
            background?: boolean | null;
            conversation?: unknown;
            prompt?: unknown;
            moderation?: unknown;
            context_management?: unknown;
          };
        };
      };
      responses: {
        /** @description The response (JSON), or its events (server-sent events) */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description resp_… */
              id: string;
              /** @enum {string} */
              object: 'response';
              created_at: number;
              /** @description completed, incomplete or failed */
              status: string;
              model: string;
              output: {
                type: string;
              }[];
              usage: Record<string, unknown> | null;
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
  '/v1/responses/{response_id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Retrieve a stored response
     * @description A response stored by this API key (store: true), as it was answered. Another key’s, an expired one or one stored with store: false is 404. Replaying it as a stream (stream=true) is not supported.
     */
    get: {
      parameters: {
        query?: {
          stream?: string;
          include?: string | string[];
          'include[]'?: string | string[];
          include_obfuscation?: string;
          starting_after?: string;
        };
        header?: never;
        path: {
          /** @description resp_… */
          response_id: string;
        };
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description OpenAI's Response object */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/json': {
              /** @description resp_… */
              id: string;
              /** @enum {string} */
              object: 'response';
              created_at: number;
              /** @description completed, incomplete or failed */
              status: string;
              model: string;
              output: {
                type: string;
              }[];
              usage: Record<string, unknown> | null;
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
    /** Delete a stored response */
    delete: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          /** @description resp_… */
          response_id: string;
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
              object: 'response';
              /** @enum {boolean} */
              deleted: true;
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
    /** Readiness: 200 when every check passes, else 503; each check with its detail for an operator only (admin or viewer token, UI session) */
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
            team?: string | null;
            /** @description Queue priority: interactive (100), batch (10) or 0-1000; higher goes first */
            priority?: 'interactive' | 'batch' | number;
            max_concurrency?: number | null;
            /** @description Budgets: {usd: 5, window: day} or {tokens: 2000000, window: month, soft: true} */
            budgets?: {
              usd?: number;
              tokens?: number;
              window: 'hour' | 'day' | 'week' | 'month' | 'total';
              soft?: boolean;
            }[];
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
              team: string | null;
              /** @description interactive = 100, batch = 10 */
              priority: number;
              max_concurrency: number | null;
              budgets: {
                usd?: number;
                tokens?: number;
                window: string;
                soft: boolean;
              }[];
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
    /** Change a key: name, models, rate_limit, expires_at, metadata, team, priority, max_concurrency, budgets (null clears) */
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
            team?: string | null;
            /** @description Queue priority: interactive (100), batch (10) or 0-1000; higher goes first */
            priority?: 'interactive' | 'batch' | number;
            max_concurrency?: number | null;
            /** @description null or [] clears */
            budgets?:
              | {
                  usd?: number;
                  tokens?: number;
                  window: 'hour' | 'day' | 'week' | 'month' | 'total';
                  soft?: boolean;
                }[]
              | null;
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
  '/admin/teams': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** List teams: the config file’s, then those created at run time */
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
              data: components['schemas']['Team'][];
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
    /** Create a team */
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
            /** @description The id of a team (config or admin API) */
            id: string;
            name?: string;
            /** @description Allow-list of model patterns (and the key's) */
            models?: string[] | null;
            rate_limit?: {
              requests?: string | string[];
              tokens?: string | string[];
            } | null;
            /** @description Budgets: {usd: 5, window: day} or {tokens: 2000000, window: month, soft: true} */
            budgets?: {
              usd?: number;
              tokens?: number;
              window: 'hour' | 'day' | 'week' | 'month' | 'total';
              soft?: boolean;
            }[];
            max_concurrency?: number | null;
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
            'application/json': components['schemas']['Team'];
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
  '/admin/teams/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Show one team, with the spending of each of its budgets in the current window */
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
            'application/json': {
              id: string;
              name: string;
              models: string[] | null;
              rate_limit: {
                requests?: string | string[];
                tokens?: string | string[];
              } | null;
              budgets: {
                usd?: number;
                tokens?: number;
                window: string;
                soft: boolean;
              }[];
              max_concurrency: number | null;
              metadata: {
                [key: string]: string;
              };
              created_at: string | null;
              /** @description config: a team of the config file (read-only here); store: created at run time */
              source: 'config' | 'store';
              spend: {
                /** @description key:<id> or team:<id> */
                scope: string;
                unit: 'usd' | 'tokens';
                limit: number;
                window: string;
                soft: boolean;
                /** @description Settled in the window */
                spent: number;
                /** @description Held by requests in flight (their worst case) */
                reserved: number;
                /** @description limit − spent − reserved, at least 0 */
                remaining: number;
                /** Format: date-time */
                window_start: string;
                /** @description null: a total budget */
                window_end: string | null;
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
    /** Delete a team that no key belongs to */
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
            'application/json': components['schemas']['Team'];
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
    /** Change a team: name, models, rate_limit, budgets, max_concurrency, metadata (null clears) */
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
            /** @description null or [] clears */
            budgets?:
              | {
                  usd?: number;
                  tokens?: number;
                  window: 'hour' | 'day' | 'week' | 'month' | 'total';
                  soft?: boolean;
                }[]
              | null;
            max_concurrency?: number | null;
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
            'application/json': components['schemas']['Team'];
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
  '/admin/requests': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Request log: a page of records, newest first, filtered
     * @description Records appear within request_log.batch.interval_ms (500 ms by default) of the request ending. Pages are newest first; pass next_cursor as cursor for the next, older page.
     */
    get: {
      parameters: {
        query?: {
          /** @description Only this key id */
          key?: string;
          /** @description Only this team */
          team?: string;
          /** @description Only this model (the name the client sent, exactly) */
          model?: string;
          /** @description Only this backend (the one that answered last) */
          backend?: string;
          /** @description An exact HTTP status (429) or a class: 2xx, 4xx, 5xx */
          status?: string;
          /** @description Only this gateway error code, e.g. 'upstream_error' */
          error_code?: string;
          /** @description HIT, MISS or BYPASS */
          cache?: string;
          /** @description Start, inclusive: an ISO 8601 date-time (UTC without an offset) or ms since the epoch */
          from?: string;
          /** @description End, exclusive; the same forms as from */
          to?: string;
          /** @description Only requests that took at least this many ms */
          min_duration_ms?: string;
          /** @description Only the request with this id (X-Request-ID) */
          request_id?: string;
          /** @description Records per page, 1–1000 (default 50) */
          limit?: string;
          /** @description The previous page's next_cursor, as it was */
          cursor?: string;
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
              /** @description Newest first */
              data: components['schemas']['RequestRecord'][];
              /** @description Pass as cursor for the next (older) page; null on the last page */
              next_cursor: string | null;
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
  '/admin/requests/export': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Request log: every matching record, newest first, as NDJSON or CSV (streamed)
     * @description CSV (RFC 4180) has a header line; attempts are one JSON column; text that a spreadsheet would run as a formula starts with a single quote. The export is read page by page: it never holds more than a page in memory.
     */
    get: {
      parameters: {
        query?: {
          /** @description Only this key id */
          key?: string;
          /** @description Only this team */
          team?: string;
          /** @description Only this model (the name the client sent, exactly) */
          model?: string;
          /** @description Only this backend (the one that answered last) */
          backend?: string;
          /** @description An exact HTTP status (429) or a class: 2xx, 4xx, 5xx */
          status?: string;
          /** @description Only this gateway error code, e.g. 'upstream_error' */
          error_code?: string;
          /** @description HIT, MISS or BYPASS */
          cache?: string;
          /** @description Start, inclusive: an ISO 8601 date-time (UTC without an offset) or ms since the epoch */
          from?: string;
          /** @description End, exclusive; the same forms as from */
          to?: string;
          /** @description Only requests that took at least this many ms */
          min_duration_ms?: string;
          /** @description Only the request with this id (X-Request-ID) */
          request_id?: string;
          /** @description ndjson (one JSON record per line; default) or csv */
          format?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description The records */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
            'application/x-ndjson': string;
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
  '/admin/requests/stream': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Request log: a live tail of new records, filtered, as server-sent events
     * @description Each record as an event `request` (data: the record as JSON, without the store id) as the request ends, before it is written; a comment every 15 s keeps the connection open. 503 when the gateway already has its maximum of live tails (100).
     */
    get: {
      parameters: {
        query?: {
          /** @description Only this key id */
          key?: string;
          /** @description Only this team */
          team?: string;
          /** @description Only this model (the name the client sent, exactly) */
          model?: string;
          /** @description Only this backend (the one that answered last) */
          backend?: string;
          /** @description An exact HTTP status (429) or a class: 2xx, 4xx, 5xx */
          status?: string;
          /** @description Only this gateway error code, e.g. 'upstream_error' */
          error_code?: string;
          /** @description HIT, MISS or BYPASS */
          cache?: string;
          /** @description Start, inclusive: an ISO 8601 date-time (UTC without an offset) or ms since the epoch */
          from?: string;
          /** @description End, exclusive; the same forms as from */
          to?: string;
          /** @description Only requests that took at least this many ms */
          min_duration_ms?: string;
          /** @description Only the request with this id (X-Request-ID) */
          request_id?: string;
        };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description The events */
        200: {
          headers: {
            [name: string]: unknown;
          };
          content: {
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
    put?: never;
    post?: never;
    delete?: never;
    options?: never;
    head?: never;
    patch?: never;
    trace?: never;
  };
  '/admin/requests/{id}': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Request log: one request, by its request id, with its attempts */
    get: {
      parameters: {
        query?: never;
        header?: never;
        path: {
          /** @description The request id (X-Request-ID) */
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
            'application/json': components['schemas']['RequestRecord'];
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
  '/admin/stats': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /**
     * Request log stats per minute or hour: requests, errors, p50/p95 latency and time to first byte, tokens, cost, cache hit ratio
     * @description Without from and to: the last 24 hours (bucket=hour) or the last hour (bucket=minute). Hourly buckets over whole hours, filtered by at most one of key, model and backend (the grouped one when there is a group_by), are read from the rollups (source: rollup); anything else from the records. Percentiles are interpolated in fixed histogram buckets.
     */
    get: {
      parameters: {
        query?: {
          /** @description Only this key id */
          key?: string;
          /** @description Only this team */
          team?: string;
          /** @description Only this model (the name the client sent, exactly) */
          model?: string;
          /** @description Only this backend (the one that answered last) */
          backend?: string;
          /** @description An exact HTTP status (429) or a class: 2xx, 4xx, 5xx */
          status?: string;
          /** @description Only this gateway error code, e.g. 'upstream_error' */
          error_code?: string;
          /** @description HIT, MISS or BYPASS */
          cache?: string;
          /** @description Start, inclusive: an ISO 8601 date-time (UTC without an offset) or ms since the epoch */
          from?: string;
          /** @description End, exclusive; the same forms as from */
          to?: string;
          /** @description Only requests that took at least this many ms */
          min_duration_ms?: string;
          /** @description Only the request with this id (X-Request-ID) */
          request_id?: string;
          /** @description minute or hour (default hour) */
          bucket?: string;
          /** @description model, key or backend; absent: one row per bucket */
          group_by?: string;
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
              /** @description rollup: read from the hourly rollups; records: aggregated from the records */
              source: 'rollup' | 'records';
              /** @description The start used, inclusive, ms since the epoch */
              from: number;
              /** @description The end used, exclusive, ms since the epoch */
              to: number;
              bucket: 'minute' | 'hour';
              group_by: 'model' | 'key' | 'backend' | null;
              /** @description Oldest bucket first; within a bucket, by group */
              data: {
                /** @description Start of the minute or hour, ms since the epoch */
                bucket_start: number;
                group: string | null;
                requests: number;
                /** @description Status 400 or more, or an error code (a stream cut off) */
                errors: number;
                duration_p50_ms: number | null;
                duration_p95_ms: number | null;
                ttfb_p50_ms: number | null;
                ttfb_p95_ms: number | null;
                prompt_tokens: number;
                completion_tokens: number;
                cached_tokens: number;
                reasoning_tokens: number;
                cost_micros: number;
                /** @description HIT / (HIT + MISS); null when no request consulted the cache */
                cache_hit_ratio: number | null;
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
  '/admin/backends': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** Each backend's health check, circuit state, requests in flight and queued (this instance's; in_flight_all_instances for a capped backend) */
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
              data: {
                [key: string]: unknown;
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
  '/admin/config': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The effective config (defaults filled in) with every secret masked */
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
              [key: string]: unknown;
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
  '/admin/reload': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    get?: never;
    put?: never;
    /** Reload the config file as SIGHUP does: applied, or refused with its problems (the running config stays) */
    post: {
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
              [key: string]: unknown;
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
  '/ui/api/session': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The signed-in role and its CSRF token; 401 without a live session */
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
              role: 'admin' | 'viewer';
              /** @description Send as x-csrf-token with every change */
              csrf_token: string;
              /** Format: date-time */
              expires_at: string;
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
    /** Sign in to the admin UI with the admin or viewer token: sets an HttpOnly session cookie */
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
            token: string;
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
              role: 'admin' | 'viewer';
              /** @description Send as x-csrf-token with every change */
              csrf_token: string;
              /** Format: date-time */
              expires_at: string;
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
    /** Sign out: ends the session (x-csrf-token required) and clears its cookie */
    delete: {
      parameters: {
        query?: never;
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: {
        /** @description Default Response */
        204: {
          headers: {
            [name: string]: unknown;
          };
          content?: never;
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
  '/ui': {
    parameters: {
      query?: never;
      header?: never;
      path?: never;
      cookie?: never;
    };
    /** The admin web UI */
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
              /** @description With key=<id>: the spending of the key’s budgets and its team’s in their current windows */
              budgets?: components['schemas']['BudgetStatus'][];
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
      team: string | null;
      /** @description interactive = 100, batch = 10 */
      priority: number;
      max_concurrency: number | null;
      budgets: {
        usd?: number;
        tokens?: number;
        window: string;
        soft: boolean;
      }[];
      /** @description config: a static key of the config file (read-only here); store: created at run time */
      source: 'config' | 'store';
    };
    Team: {
      id: string;
      name: string;
      models: string[] | null;
      rate_limit: {
        requests?: string | string[];
        tokens?: string | string[];
      } | null;
      budgets: {
        usd?: number;
        tokens?: number;
        window: string;
        soft: boolean;
      }[];
      max_concurrency: number | null;
      metadata: {
        [key: string]: string;
      };
      created_at: string | null;
      /** @description config: a team of the config file (read-only here); store: created at run time */
      source: 'config' | 'store';
    };
    RequestRecord: {
      /** @description The store's own id */
      id: number;
      /** @description When the request completed, ms since the epoch */
      time: number;
      request_id: string;
      key_id: string | null;
      team: string | null;
      /** @description e.g. openai-chat, anthropic-messages, ollama */
      protocol: string;
      /** @description e.g. /v1/chat/completions */
      route: string;
      /** @description The model the client asked for */
      model: string | null;
      route_name: string | null;
      backend: string | null;
      upstream_model: string | null;
      status: number;
      error_code: string | null;
      attempts: {
        backend: string;
        model: string;
        /** @description ok, or what went wrong: error, timeout, cancelled, … */
        outcome: string;
        error_code?: string;
        duration_ms: number;
      }[];
      cache: 'HIT' | 'MISS' | 'BYPASS' | null;
      ttfb_ms: number | null;
      duration_ms: number;
      prompt_tokens: number | null;
      completion_tokens: number | null;
      cached_tokens: number | null;
      reasoning_tokens: number | null;
      /** @description Cost in micro-dollars; null when the model has no price */
      cost_micros: number | null;
      client_address: string | null;
      user_agent: string | null;
      /** @description Only when logging.prompts is on */
      prompt: string | null;
      /** @description Only when logging.prompts is on */
      answer: string | null;
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
    BudgetStatus: {
      /** @description key:<id> or team:<id> */
      scope: string;
      unit: 'usd' | 'tokens';
      limit: number;
      window: string;
      soft: boolean;
      /** @description Settled in the window */
      spent: number;
      /** @description Held by requests in flight (their worst case) */
      reserved: number;
      /** @description limit − spent − reserved, at least 0 */
      remaining: number;
      /** Format: date-time */
      window_start: string;
      /** @description null: a total budget */
      window_end: string | null;
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
