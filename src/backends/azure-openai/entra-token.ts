/**
 * Microsoft Entra ID tokens for an Azure OpenAI backend without an api_key: `@azure/identity`'s
 * DefaultAzureCredential (environment variables, workload identity, managed identity, the Azure CLI,
 * ...) for the Cognitive Services scope. The library caches each token and refreshes it before it
 * expires (getBearerTokenProvider); the gateway never logs one and redacts them from upstream errors.
 */
import { UpstreamError } from '../../errors/errors.js';

/** The scope of Azure OpenAI's data plane (and every Azure AI service's). */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** Gives a bearer token, cached and refreshed by whoever implements it. */
export type TokenProvider = () => Promise<string>;

/**
 * DefaultAzureCredential's token provider, loaded on first use: the library (and its credential chain)
 * costs nothing to a gateway whose Azure backends use api keys.
 */
export function defaultAzureTokenProvider(): TokenProvider {
  let provider: Promise<TokenProvider> | null = null;
  return async () => {
    provider ??= import('@azure/identity').then(({ DefaultAzureCredential, getBearerTokenProvider }) =>
      getBearerTokenProvider(new DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE),
    );
    return (await provider)();
  };
}

/** Longest part of a credential error's message passed on (the chain's errors list every credential). */
const MAX_REASON = 300;

/**
 * A token for one request, or the call's abort reason, or an UpstreamError saying that none could be
 * had (retryable: another target may serve the request while Entra ID or the identity endpoint is down).
 */
export async function tokenFor(
  backend: string,
  provider: TokenProvider,
  signal: AbortSignal,
): Promise<string> {
  signal.throwIfAborted();
  let reject: (reason: unknown) => void = () => {};
  const aborted = new Promise<never>((_resolve, rejectWith) => {
    reject = rejectWith;
  });
  const onAbort = (): void => {
    reject(signal.reason);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([provider(), aborted]);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new UpstreamError(
      `Backend '${backend}' could not get a Microsoft Entra ID token (no api_key is set, so DefaultAzureCredential is used): ${reason.slice(0, MAX_REASON)}`,
      { retryable: true },
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
