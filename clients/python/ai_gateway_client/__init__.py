"""A Python client for ai-gateway, on the standard library alone (urllib, json): chat completions (whole
or streamed), embeddings, models and the admin API, with typed answers, problem+json errors, the
gateway's headers, and retries that honour Retry-After.

    from ai_gateway_client import GatewayClient

    client = GatewayClient("http://127.0.0.1:8080", api_key="sk-gw-...")
    completion = client.chat_completions("demo", [{"role": "user", "content": "Hello"}])
    print(completion.choices[0].message.content, client.last_response.request_id)
"""

from ._version import __version__
from .client import (
    RETRY_STATUSES,
    UNSET,
    Admin,
    AdminKeys,
    Chat,
    ChatCompletions,
    Embeddings,
    GatewayClient,
    Models,
)
from .errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GatewayError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from .headers import RateLimitInfo, RateLimitPolicy, RateLimitState, ResponseInfo
from .streaming import ChatCompletionStream
from .types import (
    ApiKey,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    Embedding,
    EmbeddingsResponse,
    EmbeddingUsage,
    Message,
    Model,
    ModelList,
    Usage,
    UsageReport,
    UsageRow,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "Admin",
    "AdminKeys",
    "ApiKey",
    "AuthenticationError",
    "BadRequestError",
    "Chat",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionStream",
    "ChatCompletions",
    "Choice",
    "ChunkChoice",
    "ConflictError",
    "Delta",
    "Embedding",
    "EmbeddingUsage",
    "Embeddings",
    "EmbeddingsResponse",
    "GatewayClient",
    "GatewayError",
    "Message",
    "Model",
    "ModelList",
    "Models",
    "NotFoundError",
    "PermissionDeniedError",
    "RETRY_STATUSES",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimitPolicy",
    "RateLimitState",
    "ResponseInfo",
    "ServerError",
    "UNSET",
    "Usage",
    "UsageReport",
    "UsageRow",
    "__version__",
]
