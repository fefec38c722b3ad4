/**
 * AWS Signature Version 4 for Bedrock's requests, with AWS's own packages: @smithy/signature-v4 signs,
 * @aws-crypto/sha256-js hashes, and the credentials come from @aws-sdk/credential-providers'
 * fromNodeProviderChain (environment, shared profile, web identity, container or instance role), which
 * caches them and refreshes them before they expire. One chain per backend, made when first needed:
 * no lookup happens until a request is signed, and the chain's package (a quarter of a second to load)
 * is loaded only then, so that gateways without a bedrock backend never load it.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Bedrock's signing name (both bedrock-runtime and bedrock sign as `bedrock`). */
export const SIGNING_SERVICE = 'bedrock';

export interface SignedRequest {
  readonly method: 'GET' | 'POST';
  /** The backend's base URL (its origin; a path of its own is prefixed to `path`). */
  readonly url: string;
  /** The path as it goes on the wire (already percent-encoded), without the base URL's own path. */
  readonly path: string;
  /** The headers that are signed besides host (content-type, accept). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
}

export class BedrockSigner {
  private signer: SignatureV4 | null = null;
  private provider: AwsCredentialIdentityProvider | null;

  /**
   * `credentials` replaces the AWS chain (tests); `now` is the signing clock. The chain is built on the
   * first signature, so that a gateway that never calls Bedrock never looks for credentials.
   */
  constructor(
    private readonly region: string,
    credentials?: AwsCredentialIdentityProvider,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.provider = credentials ?? null;
  }

  /** The credentials now (cached by the chain); rejects when none can be found. */
  async credentials(): Promise<AwsCredentialIdentity> {
    return (await this.credentialProvider())();
  }

  /**
   * The headers that sign the request: authorization, x-amz-date, x-amz-content-sha256 and, with
   * temporary credentials, x-amz-security-token. They go with the request's own headers unchanged.
   */
  async sign(request: SignedRequest): Promise<Record<string, string>> {
    const url = new URL(request.url);
    const prefix = url.pathname.replace(/\/+$/, '');
    const headers: Record<string, string> = { host: url.host };
    for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
    const signed = await this.signatureV4().sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: prefix + request.path,
        query: {},
        headers,
        ...(request.body === null ? {} : { body: request.body }),
      },
      { signingDate: this.now() },
    );
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      const lower = name.toLowerCase();
      if (lower === 'authorization' || lower.startsWith('x-amz-')) out[lower] = value;
    }
    return out;
  }

  private async credentialProvider(): Promise<AwsCredentialIdentityProvider> {
    if (this.provider === null) {
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      this.provider ??= fromNodeProviderChain();
    }
    return this.provider;
  }

  private signatureV4(): SignatureV4 {
    this.signer ??= new SignatureV4({
      service: SIGNING_SERVICE,
      region: this.region,
      sha256: Sha256,
      credentials: async () => this.credentials(),
      // Bedrock's paths carry the model id percent-encoded; the canonical path encodes it once more,
      // as AWS's SDKs do for every service but S3.
      uriEscapePath: true,
      applyChecksum: true,
    });
    return this.signer;
  }
}
