/**
 * How each backend type proves who the gateway is to Google.
 *
 * - gemini: the backend's api_key in `x-goog-api-key` on every request (never in the URL, where it would
 *   reach access logs).
 * - vertex: an OAuth access token (`Authorization: Bearer`) from google-auth-library: the service
 *   account key file `credentials_file` when set, else Application Default Credentials (the
 *   GOOGLE_APPLICATION_CREDENTIALS file, gcloud's user credentials, or the metadata server on Google
 *   Cloud), scope cloud-platform. The library caches the token and fetches a new one before it expires
 *   (eagerRefreshThresholdMillis, 5 minutes by default), one fetch at a time; the gateway asks it for
 *   the token on every request and keeps none itself. The token is never logged: it is removed from
 *   anything taken from an answer as every `Bearer ...` credential is (src/backends/http/redact.ts).
 *
 * A key file's `token_uri` is honoured (as Google's Python library does; the Node library always posts
 * to https://oauth2.googleapis.com/token): a private endpoint of Google's token service, or a stand-in
 * in tests. It must be https, or http on a loopback address, as the signed assertion travels to it.
 * The JWT assertion's audience stays Google's token URL (the library's choice).
 */
import { readFileSync } from 'node:fs';
import { gaxios, GoogleAuth, JWT } from 'google-auth-library';
import type { BackendConfig } from '../../config/config.js';
import { GatewayError, UpstreamError, UpstreamTimeoutError } from '../../errors/errors.js';
import type { UpstreamCall } from '../adapter.js';
import { redactSecrets } from '../http/redact.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface GoogleCredentials {
  /** Headers sent with every request (the UpstreamClient's own). */
  readonly staticHeaders: Readonly<Record<string, string>>;
  /** What to check when Google refuses them, for the error's message. */
  readonly hint: string;
  /** Headers for one request (a token that changes); {} when the static ones are all. */
  requestHeaders(call: UpstreamCall): Promise<Record<string, string>>;
}

/** The Gemini API's key. */
export function apiKeyCredentials(backend: BackendConfig): GoogleCredentials {
  if (backend.apiKey === null) throw new Error(`backend '${backend.name}' of type gemini has no api_key`);
  return {
    staticHeaders: { 'x-goog-api-key': backend.apiKey },
    hint: 'its api_key',
    requestHeaders: () => Promise.resolve({}),
  };
}

/** The narrow part of google-auth-library the gateway uses (a test may hand in its own). */
export interface AccessTokenSource {
  getAccessToken(): Promise<string | null | undefined>;
}

/** Where google-auth-library fetches service account tokens. */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/**
 * A service account key file's token_uri as the URL to post to; null when it is Google's usual one.
 * Neither https nor http on a loopback address is refused: the signed assertion would travel in clear.
 */
export function tokenUriOf(given: unknown, backend: string): URL | null {
  if (given === undefined || given === GOOGLE_TOKEN_URL) return null;
  let url: URL | null = null;
  try {
    url = typeof given === 'string' ? new URL(given) : null;
  } catch {
    url = null;
  }
  const loopback = url !== null && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url === null || (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))) {
    throw new UpstreamError(
      `Backend '${backend}': the token_uri of its credentials_file must be an https URL (or http on a loopback address)`,
    );
  }
  return url;
}

/**
 * Tokens of the service account whose key file is `credentials_file`, from google-auth-library's JWT
 * client (which caches them and refreshes them before they expire). The file is read when the first
 * token is asked for, and must be a service account key: other credential types (external accounts,
 * which run programs or fetch URLs) are refused here, as Google's library advises for files it did not
 * check itself; they work through Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS).
 */
export class ServiceAccountTokenSource implements AccessTokenSource {
  private client: JWT | null = null;

  constructor(
    private readonly file: string,
    private readonly backend: string,
  ) {}

  async getAccessToken(): Promise<string | null | undefined> {
    this.client ??= this.load();
    return (await this.client.getAccessToken()).token;
  }

  private load(): JWT {
    const unusable = (why: string): UpstreamError =>
      new UpstreamError(`Backend '${this.backend}': its credentials_file ${why}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw unusable(typeof code === 'string' ? `cannot be read (${code})` : 'is not JSON');
    }
    const key = (parsed !== null && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    if (key['type'] !== 'service_account') {
      throw unusable(
        'is not a service account key (type service_account); for other credentials leave credentials_file out and use Application Default Credentials',
      );
    }
    const email = key['client_email'];
    const privateKey = key['private_key'];
    if (typeof email !== 'string' || typeof privateKey !== 'string') {
      throw unusable('has no client_email and private_key');
    }
    const tokenUri = tokenUriOf(key['token_uri'], this.backend);
    const keyId = key['private_key_id'];
    return new JWT({
      email,
      key: privateKey,
      ...(typeof keyId === 'string' ? { keyId } : {}),
      scopes: [CLOUD_PLATFORM_SCOPE],
      ...(tokenUri === null ? {} : { transporter: redirectingTransporter(tokenUri) }),
    });
  }
}

/** A gaxios that posts token requests meant for Google's token service to `tokenUri` instead. */
function redirectingTransporter(tokenUri: URL): InstanceType<typeof gaxios.Gaxios> {
  const transporter = new gaxios.Gaxios();
  transporter.interceptors.request.add({
    resolved: (request) => {
      if (request.url.href === GOOGLE_TOKEN_URL) request.url = new URL(tokenUri.href);
      return Promise.resolve(request);
    },
  });
  return transporter;
}

/** Where a backend's tokens come from: its key file, else Application Default Credentials. */
export function tokenSourceOf(backend: BackendConfig): AccessTokenSource {
  return backend.credentialsFile === null
    ? new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] })
    : new ServiceAccountTokenSource(backend.credentialsFile, backend.name);
}

/** Vertex AI's OAuth token, from google-auth-library. */
export function oauthCredentials(
  backend: BackendConfig,
  source: AccessTokenSource = tokenSourceOf(backend),
): GoogleCredentials & { token(call: UpstreamCall): Promise<string> } {
  const name = backend.name;
  const hint =
    backend.credentialsFile === null
      ? "the gateway's Application Default Credentials and their roles (roles/aiplatform.user)"
      : "its credentials_file and the service account's roles (roles/aiplatform.user)";
  const token = async (call: UpstreamCall): Promise<string> => {
    let value: string | null | undefined;
    try {
      value = await untilSettled(source.getAccessToken(), call, backend.timeoutMs, name);
    } catch (error) {
      if (call.signal.aborted) throw call.signal.reason;
      if (error instanceof GatewayError) throw error;
      throw tokenError(error, backend, hint);
    }
    if (typeof value !== 'string' || value === '') {
      throw new UpstreamError(`Backend '${name}' obtained no Google access token; check ${hint}`);
    }
    return value;
  };
  return {
    staticHeaders: {},
    hint,
    token,
    requestHeaders: async (call) => ({ authorization: `Bearer ${await token(call)}` }),
  };
}

/**
 * Waits for the token, but no longer than the call (aborted: its reason) or the backend's timeout_ms.
 * The library's own fetch goes on and fills its cache for the next request.
 */
async function untilSettled<T>(
  promise: Promise<T>,
  call: UpstreamCall,
  timeoutMs: number,
  name: string,
): Promise<T> {
  if (call.signal.aborted) throw call.signal.reason;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new UpstreamTimeoutError(`Backend '${name}' obtained no Google access token within ${timeoutMs} ms`, {
          retryable: true,
        }),
      );
    }, timeoutMs);
    onAbort = () => {
      reject(call.signal.reason as Error);
    };
    call.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) call.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A failed token fetch: Google's token service refused the credentials (a 4xx: not retryable, say
 * which to check), or could not be reached or answered (retryable). The library's message names the
 * cause (invalid_grant, a missing file, no ADC found); secrets are removed from it all the same.
 */
function tokenError(error: unknown, backend: BackendConfig, hint: string): UpstreamError {
  const status = (error as { response?: { status?: unknown }; status?: unknown } | null)?.response?.status;
  const refused = typeof status === 'number' && status >= 400 && status < 500;
  const raw = error instanceof Error ? error.message : String(error);
  const message = redactSecrets(raw, backend.secrets).slice(0, 300);
  return new UpstreamError(
    refused
      ? `Backend '${backend.name}': Google refused the gateway's credentials (${status}); check ${hint}: ${message}`
      : `Backend '${backend.name}' could not obtain a Google access token: ${message}`,
    // No `cause`: the library's error holds its request, and with it the signed assertion.
    { retryable: !refused },
  );
}
