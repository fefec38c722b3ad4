"""The gateway's response headers, parsed: request id, cache status, backend, attempts, rate limits."""

from __future__ import annotations

import email.utils
import re
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple, Union

_Param = Union[str, int, float, bool]


def _parse_list(value: str) -> List[Tuple[str, Dict[str, _Param]]]:
    """A structured-field list (RFC 8941) of strings or tokens with parameters, leniently:
    ``"requests";q=100;w=60, "tokens";q=1000;w=60`` -> ``[("requests", {"q": 100, "w": 60}), ...]``.
    """
    items: List[Tuple[str, Dict[str, _Param]]] = []
    position = 0
    length = len(value)

    def skip_spaces() -> None:
        nonlocal position
        while position < length and value[position] in " \t":
            position += 1

    def bare() -> str:
        nonlocal position
        start = position
        while position < length and value[position] not in ",;= \t":
            position += 1
        return value[start:position]

    def quoted() -> str:
        nonlocal position
        position += 1  # the opening quote
        out = []
        while position < length:
            char = value[position]
            position += 1
            if char == "\\" and position < length:
                out.append(value[position])
                position += 1
            elif char == '"':
                break
            else:
                out.append(char)
        return "".join(out)

    def item_value() -> _Param:
        if position < length and value[position] == '"':
            return quoted()
        text = bare()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        if re.fullmatch(r"-?\d+\.\d+", text):
            return float(text)
        if text in ("?1", "?0"):
            return text == "?1"
        return text

    while position < length:
        skip_spaces()
        if position >= length:
            break
        name = quoted() if value[position] == '"' else bare()
        params: Dict[str, _Param] = {}
        skip_spaces()
        while position < length and value[position] == ";":
            position += 1
            skip_spaces()
            key = bare().lower()
            if position < length and value[position] == "=":
                position += 1
                params[key] = item_value()
            else:
                params[key] = True
            skip_spaces()
        if name:
            items.append((name, params))
        # Skip anything unexpected up to the next item.
        while position < length and value[position] != ",":
            position += 1
        position += 1
    return items


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SECONDS_PER = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_openai_duration(value: Optional[str]) -> Optional[float]:
    """OpenAI's ``x-ratelimit-reset-*`` format (``"6m0s"``, ``"1.5s"``, ``"20ms"``) in seconds."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    total = 0.0
    end = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != end:
            return None
        total += float(match.group(1)) * _SECONDS_PER[match.group(2)]
        end = match.end()
    return total if end == len(text) else None


def parse_retry_after(headers: Mapping[str, str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait before retrying: ``retry-after-ms`` when present, else ``Retry-After`` (seconds or
    an HTTP date); None when neither is usable."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            parsed = float(milliseconds)
            if parsed >= 0 and parsed == parsed and parsed != float("inf"):
                return parsed / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _int_param(params: Mapping[str, _Param], name: str) -> Optional[int]:
    value = params.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_int(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


@dataclass
class RateLimitPolicy:
    """One item of ``RateLimit-Policy``: ``quota`` units per ``window`` seconds."""

    name: str
    quota: Optional[int] = None
    window: Optional[int] = None


@dataclass
class RateLimitState:
    """One item of ``RateLimit``: ``remaining`` units, the full quota back in ``reset`` seconds."""

    name: str
    remaining: Optional[int] = None
    reset: Optional[int] = None


@dataclass
class RateLimitInfo:
    """The rate-limit headers of a response. ``policies`` and ``limits`` are keyed by policy name
    (``"requests"``, ``"tokens"``, ``"tokens-day"``, ``"model-requests"``, ...); the other fields are
    OpenAI's ``x-ratelimit-*`` for the tightest requests and tokens limits (resets in seconds).
    Everything is empty or None on a response that no limit applied to."""

    policies: Dict[str, RateLimitPolicy] = field(default_factory=dict)
    limits: Dict[str, RateLimitState] = field(default_factory=dict)
    limit_requests: Optional[int] = None
    remaining_requests: Optional[int] = None
    reset_requests: Optional[float] = None
    limit_tokens: Optional[int] = None
    remaining_tokens: Optional[int] = None
    reset_tokens: Optional[float] = None

    @property
    def present(self) -> bool:
        """Whether the response carried any rate-limit header."""
        return bool(
            self.policies
            or self.limits
            or self.limit_requests is not None
            or self.limit_tokens is not None
        )

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        policies: Dict[str, RateLimitPolicy] = {}
        for name, params in _parse_list(headers.get("ratelimit-policy", "")):
            policies[name] = RateLimitPolicy(
                name=name, quota=_int_param(params, "q"), window=_int_param(params, "w")
            )
        limits: Dict[str, RateLimitState] = {}
        for name, params in _parse_list(headers.get("ratelimit", "")):
            limits[name] = RateLimitState(
                name=name, remaining=_int_param(params, "r"), reset=_int_param(params, "t")
            )
        return cls(
            policies=policies,
            limits=limits,
            limit_requests=_opt_int(headers.get("x-ratelimit-limit-requests")),
            remaining_requests=_opt_int(headers.get("x-ratelimit-remaining-requests")),
            reset_requests=parse_openai_duration(headers.get("x-ratelimit-reset-requests")),
            limit_tokens=_opt_int(headers.get("x-ratelimit-limit-tokens")),
            remaining_tokens=_opt_int(headers.get("x-ratelimit-remaining-tokens")),
            reset_tokens=parse_openai_duration(headers.get("x-ratelimit-reset-tokens")),
        )


@dataclass
class ResponseInfo:
    """What the gateway said about one call, besides the body.

    ``request_id`` (``X-Request-ID``), ``cache`` (``X-Cache``: ``"HIT"``, ``"MISS"``, ``"BYPASS"`` or
    None), ``backend`` (``X-Gateway-Backend``), ``attempts`` (``X-Gateway-Attempts``: the gateway's upstream
    attempts), ``rate_limit`` (the rate-limit headers), ``retry_after`` (seconds, when the answer asked
    for a wait), ``retries`` (how many times this client retried the call) and ``elapsed`` (seconds from
    the first attempt to the last answer's headers, waits included). ``headers`` has every header with a
    lower-case name.
    """

    status: int
    headers: Dict[str, str] = field(default_factory=dict)
    request_id: Optional[str] = None
    cache: Optional[str] = None
    backend: Optional[str] = None
    attempts: Optional[int] = None
    rate_limit: RateLimitInfo = field(default_factory=RateLimitInfo)
    retry_after: Optional[float] = None
    retries: int = 0
    elapsed: float = 0.0

    @property
    def cache_hit(self) -> bool:
        """Whether the answer came from the gateway's response cache."""
        return self.cache == "HIT"

    @classmethod
    def from_headers(
        cls, status: int, headers: Mapping[str, str], *, retries: int = 0, elapsed: float = 0.0
    ) -> ResponseInfo:
        lower = {name.lower(): value for name, value in headers.items()}
        cache = lower.get("x-cache")
        return cls(
            status=status,
            headers=lower,
            request_id=lower.get("x-request-id"),
            cache=cache.strip().upper() if cache is not None else None,
            backend=lower.get("x-gateway-backend"),
            attempts=_opt_int(lower.get("x-gateway-attempts")),
            rate_limit=RateLimitInfo.from_headers(lower),
            retry_after=parse_retry_after(lower),
            retries=retries,
            elapsed=elapsed,
        )


def header_dict(items: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    """Response headers with lower-case names; repeated headers joined with ", " (RFC 9110)."""
    out: Dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


__all__ = [
    "RateLimitInfo",
    "RateLimitPolicy",
    "RateLimitState",
    "ResponseInfo",
    "header_dict",
    "parse_openai_duration",
    "parse_retry_after",
]
