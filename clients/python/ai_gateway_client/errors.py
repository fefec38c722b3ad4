"""Errors: the gateway's problem+json answers (RFC 9457) as exceptions, and transport failures."""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type


class GatewayError(Exception):
    """An error answer of the gateway, or a failure to get one.

    For an HTTP error the attributes come from the problem+json body: ``status`` (the HTTP status),
    ``code`` (``error.code``, e.g. ``"rate_limit_exceeded"``), ``type`` (the problem type URI, e.g.
    ``"https://ai-gateway.dev/problems/rate-limit-exceeded"``), ``error_type`` (OpenAI's ``error.type``,
    e.g. ``"rate_limit_error"``), ``title``, ``detail``, ``instance``, ``param``, ``request_id`` (the body's,
    else the ``X-Request-ID`` header) and ``retry_after`` (seconds, from ``retry-after-ms`` or
    ``Retry-After``; None when absent). ``problem`` is the whole body as parsed, ``headers`` the response's
    headers with lower-case names.

    Transport failures (:class:`APIConnectionError`, :class:`APITimeoutError`) have ``status`` None.
    An error event in the middle of a stream is raised with ``in_stream`` true.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        type: Optional[str] = None,
        error_type: Optional[str] = None,
        title: Optional[str] = None,
        detail: Optional[str] = None,
        instance: Optional[str] = None,
        param: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        problem: Optional[Dict[str, Any]] = None,
        headers: Optional[Dict[str, str]] = None,
        in_stream: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.type = type
        self.error_type = error_type
        self.title = title
        self.detail = detail
        self.instance = instance
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        self.problem: Dict[str, Any] = problem if problem is not None else {}
        self.headers: Dict[str, str] = headers if headers is not None else {}
        self.in_stream = in_stream

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request_id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(status={self.status!r}, code={self.code!r}, "
            f"detail={self.detail!r}, request_id={self.request_id!r})"
        )


class BadRequestError(GatewayError):
    """400 ``invalid_request`` (and other 4xx statuses without a class of their own, e.g. 413, 415, 422)."""


class AuthenticationError(GatewayError):
    """401 ``invalid_api_key``: no key, an unknown, expired or revoked one, or a wrong admin token."""


class PermissionDeniedError(GatewayError):
    """403 ``model_not_allowed``: the key's allow-list does not include the model."""


class NotFoundError(GatewayError):
    """404 ``not_found`` or ``model_not_found``."""


class ConflictError(GatewayError):
    """409: a change to a static key (one from the config file) through the admin API."""


class RateLimitError(GatewayError):
    """429 ``rate_limit_exceeded``; ``retry_after`` says when to try again."""


class ServerError(GatewayError):
    """A 5xx: ``internal_error``, ``upstream_error``, ``service_unavailable``, ``upstream_timeout``."""


class APIConnectionError(GatewayError):
    """No answer: the connection failed, was cut, or a stream ended without ``[DONE]``."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout."""


_BY_STATUS: Dict[int, Type[GatewayError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def _error_class(status: Optional[int]) -> Type[GatewayError]:
    if status is None:
        return GatewayError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return BadRequestError
    return GatewayError


def _opt_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def error_from_problem(
    problem: Mapping[str, Any],
    *,
    status: Optional[int] = None,
    headers: Optional[Dict[str, str]] = None,
    request_id: Optional[str] = None,
    retry_after: Optional[float] = None,
    in_stream: bool = False,
) -> GatewayError:
    """The exception for a problem object (an error body, or the error event of a stream)."""
    error = problem.get("error")
    error = error if isinstance(error, Mapping) else {}
    body_status = problem.get("status")
    if isinstance(body_status, int) and not isinstance(body_status, bool) and (status is None or in_stream):
        status = body_status
    detail = _opt_str(problem.get("detail")) or _opt_str(error.get("message"))
    title = _opt_str(problem.get("title"))
    message = detail or title or (f"HTTP {status}" if status is not None else "Gateway error")
    cls = _error_class(status)
    return cls(
        message,
        status=status,
        code=_opt_str(error.get("code")) or _opt_str(problem.get("code")),
        type=_opt_str(problem.get("type")),
        error_type=_opt_str(error.get("type")),
        title=title,
        detail=detail,
        instance=_opt_str(problem.get("instance")),
        param=_opt_str(error.get("param")),
        request_id=_opt_str(problem.get("request_id")) or request_id,
        retry_after=retry_after,
        problem=dict(problem),
        headers=headers,
        in_stream=in_stream,
    )


def error_from_response(
    status: int,
    body: bytes,
    headers: Dict[str, str],
    *,
    request_id: Optional[str] = None,
    retry_after: Optional[float] = None,
) -> GatewayError:
    """The exception for an HTTP error answer; a body that is not a problem object still gives one."""
    problem: Dict[str, Any] = {}
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
        if isinstance(parsed, dict):
            problem = parsed
    except (UnicodeDecodeError, ValueError):
        pass
    if not problem:
        text = body.decode("utf-8", "replace").strip()
        if text:
            problem = {"detail": text[:500]}
    return error_from_problem(
        problem, status=status, headers=headers, request_id=request_id, retry_after=retry_after
    )


__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GatewayError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "error_from_problem",
    "error_from_response",
]
