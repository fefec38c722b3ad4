"""GatewayClient: chat completions (whole or streamed), embeddings, models and the admin API over
urllib, with retries that honour Retry-After."""

from __future__ import annotations

import datetime
import http.client
import json
import platform
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Tuple, Union, overload

from ._version import __version__
from .errors import APIConnectionError, APITimeoutError, GatewayError, error_from_response
from .headers import ResponseInfo, header_dict, parse_retry_after
from .streaming import ChatCompletionStream
from .types import (
    ApiKey,
    ChatCompletion,
    EmbeddingsResponse,
    JSONObject,
    ModelList,
    UsageReport,
)

#: The statuses a call is retried on (with connection failures and timeouts).
RETRY_STATUSES = frozenset({429, 502, 503, 504})

Headers = Mapping[str, str]
Instant = Union[str, datetime.datetime, datetime.date]


class _Unset:
    """The default of the admin ``update`` fields: the field is not sent (``None`` sends null: clears)."""

    _instance: Optional[_Unset] = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The gateway never redirects; a redirect (from a proxy, say) becomes an error, not a new request
    that would carry the key elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _is_timeout(error: BaseException) -> bool:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return True
    reason = getattr(error, "reason", None)
    return isinstance(reason, (socket.timeout, TimeoutError))


def _instant(value: Instant) -> str:
    """An ISO 8601 string for the admin API (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        text = value.astimezone(datetime.timezone.utc).isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class GatewayClient:
    """A client of one ai-gateway.

    ``base_url`` is the gateway's address (``http://127.0.0.1:8080``; a trailing ``/v1`` is accepted).
    ``api_key`` is sent as ``Authorization: Bearer`` on ``/v1`` calls, ``admin_token`` on ``/admin`` calls.

    Failed calls are retried on 429, 502, 503, 504, connection failures and timeouts, at most
    ``max_retries`` times, after an exponential backoff with jitter (``retry_backoff`` seconds doubled per
    retry, at most ``retry_backoff_max``), or after the ``retry-after-ms`` / ``Retry-After`` the answer
    asked for. No retry starts later than ``retry_max_elapsed`` seconds after the first attempt: when the
    wait would end after that, the error is raised at once. A stream is never retried once its answer
    has started. ``timeout`` is the seconds to wait for the connection and for each read (for a stream:
    between two events); every method also takes ``timeout``, ``max_retries`` and ``extra_headers``.
    ``proxies`` maps schemes to proxy URLs (``{}``: no proxy); by default urllib's environment variables
    (``http_proxy``, ``https_proxy``, ``no_proxy``) apply.

    ``last_response`` is the :class:`ResponseInfo` of the calling thread's last answer, errors included.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Optional[str] = None,
        admin_token: Optional[str] = None,
        *,
        max_retries: int = 2,
        timeout: float = 60.0,
        retry_max_elapsed: float = 30.0,
        retry_backoff: float = 0.5,
        retry_backoff_max: float = 8.0,
        default_headers: Optional[Headers] = None,
        proxies: Optional[Mapping[str, str]] = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        path = parsed.path.rstrip("/")
        if path.endswith("/v1"):
            path = path[: -len("/v1")]
        self.base_url = urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))
        self.api_key = api_key
        self.admin_token = admin_token
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        self.max_retries = max_retries
        self.timeout = timeout
        self.retry_max_elapsed = retry_max_elapsed
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.default_headers: Dict[str, str] = dict(default_headers or {})
        self.user_agent = f"ai-gateway-python/{__version__} Python/{platform.python_version()}"
        handlers: List[urllib.request.BaseHandler] = [_NoRedirects()]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        self._opener = urllib.request.build_opener(*handlers)
        self._local = threading.local()
        self.chat = Chat(self)
        self.embeddings = Embeddings(self)
        self.models = Models(self)
        self.admin = Admin(self)

    def __repr__(self) -> str:
        return f"GatewayClient({self.base_url!r})"

    # --- what the last call saw ---------------------------------------------------------------

    @property
    def last_response(self) -> Optional[ResponseInfo]:
        """The headers of this thread's last answer (success or error), parsed; None before any."""
        info: Optional[ResponseInfo] = getattr(self._local, "last_response", None)
        return info

    def _remember(self, info: ResponseInfo) -> None:
        self._local.last_response = info

    # --- the public API -----------------------------------------------------------------------

    def chat_completions(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        **params: Any,
    ) -> ChatCompletion:
        """POST /v1/chat/completions; ``params`` are the other fields of OpenAI's request
        (``temperature``, ``max_tokens``, ``tools``, ...). For ``stream=True`` use :meth:`stream`."""
        if params.get("stream"):
            raise ValueError("chat_completions() does not stream: use stream() or chat.completions.create()")
        body: JSONObject = {"model": model, "messages": list(messages), **params}
        data = self._json_call(
            "POST",
            "/v1/chat/completions",
            body=body,
            auth="key",
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )
        return ChatCompletion.from_dict(data)

    def stream(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        **params: Any,
    ) -> ChatCompletionStream:
        """POST /v1/chat/completions with ``stream: true``. Returns once the answer has started (errors
        before that, such as 401 or 429, are raised here, after any retries); iterate the result for
        :class:`ChatCompletionChunk` objects."""
        body: JSONObject = {"model": model, "messages": list(messages), **params, "stream": True}
        status, info, response = self._call(
            "POST",
            "/v1/chat/completions",
            body=body,
            auth="key",
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            accept="text/event-stream",
            stream=True,
        )
        return ChatCompletionStream(response, info)

    def create_embeddings(
        self,
        model: str,
        input: Union[str, Sequence[str], Sequence[int], Sequence[Sequence[int]]],
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        **params: Any,
    ) -> EmbeddingsResponse:
        """POST /v1/embeddings (also ``client.embeddings(...)`` and ``client.embeddings.create(...)``)."""
        body: JSONObject = {"model": model, "input": input if isinstance(input, str) else list(input)}
        body.update(params)
        data = self._json_call(
            "POST",
            "/v1/embeddings",
            body=body,
            auth="key",
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )
        return EmbeddingsResponse.from_dict(data)

    def list_models(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
    ) -> ModelList:
        """GET /v1/models: the models this key may use (also ``client.models()``, ``.models.list()``)."""
        data = self._json_call(
            "GET",
            "/v1/models",
            auth="key",
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )
        return ModelList.from_dict(data)

    # --- transport ----------------------------------------------------------------------------

    def _json_call(self, method: str, path: str, **options: Any) -> Any:
        status, info, body = self._call(method, path, **options)
        try:
            return json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            raise GatewayError(
                f"The gateway answered {status} with a body that is not JSON",
                status=status,
                request_id=info.request_id,
                headers=info.headers,
            ) from None

    def _headers(self, auth: str, accept: str, has_body: bool, extra: Optional[Headers]) -> Dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": accept}
        headers.update(self.default_headers)
        if auth == "admin":
            if not self.admin_token:
                raise ValueError("the admin API needs GatewayClient(..., admin_token=...)")
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if has_body:
            headers["Content-Type"] = "application/json"
        if extra:
            headers.update(extra)
        return headers

    def _backoff(self, retry: int) -> float:
        ceiling = min(self.retry_backoff_max, self.retry_backoff * (2**retry))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _wait_before_retry(
        self, retry: int, retry_after: Optional[float], started: float, max_retries: int
    ) -> Optional[float]:
        """Seconds to wait before retry number ``retry`` (0-based), or None: no retry."""
        if retry >= max_retries:
            return None
        if retry_after is not None:
            wait = retry_after + random.uniform(0, min(1.0, retry_after * 0.1))
        else:
            wait = self._backoff(retry)
        if time.monotonic() - started + wait > self.retry_max_elapsed:
            return None
        return wait

    @overload
    def _call(
        self,
        method: str,
        path: str,
        *,
        auth: str,
        body: Any = ...,
        query: Optional[Mapping[str, Any]] = ...,
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        extra_headers: Optional[Headers] = ...,
        accept: str = ...,
        stream: Literal[False] = ...,
    ) -> Tuple[int, ResponseInfo, bytes]: ...

    @overload
    def _call(
        self,
        method: str,
        path: str,
        *,
        auth: str,
        body: Any = ...,
        query: Optional[Mapping[str, Any]] = ...,
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        extra_headers: Optional[Headers] = ...,
        accept: str = ...,
        stream: Literal[True],
    ) -> Tuple[int, ResponseInfo, Any]: ...

    def _call(
        self,
        method: str,
        path: str,
        *,
        auth: str,
        body: Any = None,
        query: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        accept: str = "application/json",
        stream: bool = False,
    ) -> Tuple[int, ResponseInfo, Any]:
        """One call with its retries. Returns (status, info, body bytes) or, with ``stream``, the open
        response instead of the body."""
        url = self.base_url + path
        if query:
            pairs = [(name, str(value)) for name, value in query.items() if value is not None]
            if pairs:
                url += "?" + urllib.parse.urlencode(pairs)
        data = _json_body(body) if body is not None else None
        headers = self._headers(auth, accept, data is not None, extra_headers)
        per_read = self.timeout if timeout is None else timeout
        retries_allowed = self.max_retries if max_retries is None else max_retries
        started = time.monotonic()
        retry = 0
        while True:
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            failure: GatewayError
            retry_after: Optional[float] = None
            try:
                response = self._opener.open(request, timeout=per_read)
            except urllib.error.HTTPError as error:
                status = error.code
                response_headers = header_dict(error.headers.items()) if error.headers else {}
                try:
                    payload = error.read()
                except (OSError, http.client.HTTPException):
                    payload = b""
                finally:
                    error.close()
                retry_after = parse_retry_after(response_headers)
                info = ResponseInfo.from_headers(
                    status, response_headers, retries=retry, elapsed=time.monotonic() - started
                )
                self._remember(info)
                failure = error_from_response(
                    status,
                    payload,
                    response_headers,
                    request_id=info.request_id,
                    retry_after=retry_after,
                )
                if status not in RETRY_STATUSES:
                    raise failure from None
            except (OSError, http.client.HTTPException) as error:
                failure = self._transport_error(error, method, url)
            else:
                status = response.status
                response_headers = header_dict(response.getheaders())
                info = ResponseInfo.from_headers(
                    status, response_headers, retries=retry, elapsed=time.monotonic() - started
                )
                self._remember(info)
                if stream:
                    return status, info, response
                try:
                    payload = response.read()
                except (OSError, http.client.HTTPException) as error:
                    failure = self._transport_error(error, method, url)
                else:
                    return status, info, payload
                finally:
                    response.close()
            wait = self._wait_before_retry(retry, retry_after, started, retries_allowed)
            if wait is None:
                raise failure
            time.sleep(wait)
            retry += 1

    @staticmethod
    def _transport_error(error: BaseException, method: str, url: str) -> GatewayError:
        reason = getattr(error, "reason", None) or error
        if _is_timeout(error):
            failure: GatewayError = APITimeoutError(f"{method} {url}: timed out ({reason})")
        else:
            failure = APIConnectionError(f"{method} {url}: {reason or error.__class__.__name__}")
        failure.__cause__ = error
        return failure


class ChatCompletions:
    """``client.chat.completions``: OpenAI's call shape."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        extra_headers: Optional[Headers] = ...,
        **params: Any,
    ) -> ChatCompletionStream: ...

    @overload
    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = ...,
        timeout: Optional[float] = ...,
        max_retries: Optional[int] = ...,
        extra_headers: Optional[Headers] = ...,
        **params: Any,
    ) -> ChatCompletion: ...

    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: bool = False,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        **params: Any,
    ) -> Union[ChatCompletion, ChatCompletionStream]:
        """POST /v1/chat/completions with the body's fields as keywords; ``stream=True`` returns a
        :class:`ChatCompletionStream`, else a :class:`ChatCompletion`."""
        options: Dict[str, Any] = {
            "timeout": timeout,
            "max_retries": max_retries,
            "extra_headers": extra_headers,
        }
        if stream:
            return self._client.stream(model, messages, **options, **params)
        return self._client.chat_completions(model, messages, **options, **params)


class Chat:
    """``client.chat``."""

    def __init__(self, client: GatewayClient) -> None:
        self.completions = ChatCompletions(client)


class Embeddings:
    """``client.embeddings(model=..., input=...)``, or ``client.embeddings.create(...)``."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    def create(
        self,
        *,
        model: str,
        input: Union[str, Sequence[str], Sequence[int], Sequence[Sequence[int]]],
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
        **params: Any,
    ) -> EmbeddingsResponse:
        """POST /v1/embeddings."""
        return self._client.create_embeddings(
            model, input, timeout=timeout, max_retries=max_retries, extra_headers=extra_headers, **params
        )

    __call__ = create


class Models:
    """``client.models()``, or ``client.models.list()``."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    def list(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        extra_headers: Optional[Headers] = None,
    ) -> ModelList:
        """GET /v1/models."""
        return self._client.list_models(timeout=timeout, max_retries=max_retries, extra_headers=extra_headers)

    __call__ = list


class AdminKeys:
    """``client.admin.keys``: the key management API (needs the admin token)."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client

    def _call(self, method: str, path: str, **options: Any) -> Any:
        return self._client._json_call(method, path, auth="admin", **options)

    @staticmethod
    def _path(key_id: str) -> str:
        if not key_id:
            raise ValueError("key_id must not be empty")
        return "/admin/keys/" + urllib.parse.quote(key_id, safe="")

    def create(
        self,
        name: str,
        *,
        models: Optional[Iterable[str]] = None,
        rate_limit: Optional[Mapping[str, Any]] = None,
        expires_at: Optional[Instant] = None,
        metadata: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> ApiKey:
        """POST /admin/keys. The answer's ``key`` is the secret: shown this once, never again.
        ``rate_limit`` is e.g. ``{"requests": "600/minute", "tokens": "200000/minute"}``."""
        body: JSONObject = {"name": name}
        if models is not None:
            body["models"] = list(models)
        if rate_limit is not None:
            body["rate_limit"] = dict(rate_limit)
        if expires_at is not None:
            body["expires_at"] = _instant(expires_at)
        if metadata is not None:
            body["metadata"] = dict(metadata)
        data = self._call("POST", "/admin/keys", body=body, timeout=timeout, max_retries=max_retries)
        return ApiKey.from_dict(data)

    def list(self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None) -> List[ApiKey]:
        """GET /admin/keys: every key, static ones (``source == "config"``) included; never a secret."""
        data = self._call("GET", "/admin/keys", timeout=timeout, max_retries=max_retries)
        items = data.get("data") if isinstance(data, dict) else None
        return [ApiKey.from_dict(item) for item in items] if isinstance(items, list) else []

    def get(
        self, key_id: str, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> ApiKey:
        """GET /admin/keys/{id}."""
        data = self._call("GET", self._path(key_id), timeout=timeout, max_retries=max_retries)
        return ApiKey.from_dict(data)

    def update(
        self,
        key_id: str,
        *,
        name: Any = UNSET,
        models: Any = UNSET,
        rate_limit: Any = UNSET,
        expires_at: Any = UNSET,
        metadata: Any = UNSET,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> ApiKey:
        """PATCH /admin/keys/{id}: only the fields given are sent; ``None`` clears one (sends null)."""
        body: JSONObject = {}
        if name is not UNSET:
            body["name"] = name
        if models is not UNSET:
            body["models"] = None if models is None else list(models)
        if rate_limit is not UNSET:
            body["rate_limit"] = None if rate_limit is None else dict(rate_limit)
        if expires_at is not UNSET:
            body["expires_at"] = None if expires_at is None else _instant(expires_at)
        if metadata is not UNSET:
            body["metadata"] = None if metadata is None else dict(metadata)
        if not body:
            raise ValueError("update() needs at least one field to change")
        data = self._call("PATCH", self._path(key_id), body=body, timeout=timeout, max_retries=max_retries)
        return ApiKey.from_dict(data)

    def revoke(
        self, key_id: str, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> ApiKey:
        """DELETE /admin/keys/{id}: refused by every gateway instance within a second."""
        data = self._call("DELETE", self._path(key_id), timeout=timeout, max_retries=max_retries)
        return ApiKey.from_dict(data)


class Admin:
    """``client.admin``: keys, usage and the response cache (needs the admin token)."""

    def __init__(self, client: GatewayClient) -> None:
        self._client = client
        self.keys = AdminKeys(client)

    @staticmethod
    def _usage_query(
        key: Optional[str],
        model: Optional[str],
        from_: Optional[Instant],
        to: Optional[Instant],
        group_by: Optional[Union[str, Sequence[str]]],
    ) -> Dict[str, Any]:
        query: Dict[str, Any] = {"key": key, "model": model}
        if from_ is not None:
            query["from"] = _instant(from_)
        if to is not None:
            query["to"] = _instant(to)
        if group_by is not None:
            query["group_by"] = group_by if isinstance(group_by, str) else ",".join(group_by)
        return query

    def usage(
        self,
        *,
        key: Optional[str] = None,
        model: Optional[str] = None,
        from_: Optional[Instant] = None,
        to: Optional[Instant] = None,
        group_by: Optional[Union[str, Sequence[str]]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> UsageReport:
        """GET /admin/usage. ``from_`` and ``to`` are dates, datetimes (naive = UTC) or strings the gateway
        reads (``"2026-11-27"``, ``"7d"``, ``"36h"``); ``group_by`` is ``"key"``, ``"model"``, ``"day"``,
        ``"hour"`` or several (``["key", "day"]``); ``""`` gives one row of totals."""
        data = self._client._json_call(
            "GET",
            "/admin/usage",
            auth="admin",
            query=self._usage_query(key, model, from_, to, group_by),
            timeout=timeout,
            max_retries=max_retries,
        )
        return UsageReport.from_dict(data)

    def usage_csv(
        self,
        *,
        key: Optional[str] = None,
        model: Optional[str] = None,
        from_: Optional[Instant] = None,
        to: Optional[Instant] = None,
        group_by: Optional[Union[str, Sequence[str]]] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
    ) -> str:
        """GET /admin/usage with ``Accept: text/csv``: the same rows as CSV text (RFC 4180)."""
        _, _, body = self._client._call(
            "GET",
            "/admin/usage",
            auth="admin",
            query=self._usage_query(key, model, from_, to, group_by),
            accept="text/csv",
            timeout=timeout,
            max_retries=max_retries,
        )
        text: str = body.decode("utf-8")
        return text

    def purge_cache(
        self, key: Optional[str] = None, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> int:
        """DELETE /admin/cache (every entry) or ``?key=ID`` (one key's scope); returns how many entries
        were deleted."""
        data = self._client._json_call(
            "DELETE",
            "/admin/cache",
            auth="admin",
            query={"key": key},
            timeout=timeout,
            max_retries=max_retries,
        )
        deleted = data.get("deleted") if isinstance(data, dict) else None
        return deleted if isinstance(deleted, int) else 0


__all__ = [
    "Admin",
    "AdminKeys",
    "Chat",
    "ChatCompletions",
    "Embeddings",
    "GatewayClient",
    "Models",
    "RETRY_STATUSES",
    "UNSET",
]
