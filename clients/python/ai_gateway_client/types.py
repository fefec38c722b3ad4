"""The gateway's JSON answers as dataclasses.

Every class has ``from_dict`` (tolerant: a missing field, or one of an unexpected type, gets its
default) and ``to_dict`` (the JSON object back). Fields the class does not know, such as those a
newer gateway or an OpenAI-compatible backend adds, are kept in ``extra`` rather than dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Union

JSONObject = Dict[str, Any]


def _split(data: Mapping[str, Any], names: Tuple[str, ...]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    known = {name: data[name] for name in names if name in data}
    extra = {name: value for name, value in data.items() if name not in names}
    return known, extra


def _to_json(value: Any) -> Any:
    if isinstance(value, _Model):
        return value.to_dict()
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


class _Model:
    """Shared behaviour of the answer dataclasses."""

    # JSON member names that differ from the attribute name (``from`` is a Python keyword).
    _json_names: ClassVar[Dict[str, str]] = {}
    # Optional members left out of to_dict() when they hold this value (as the gateway leaves them out).
    _omit: ClassVar[Dict[str, Any]] = {}

    extra: JSONObject

    def to_dict(self) -> JSONObject:
        """The JSON object this was read from (known fields first, then ``extra``)."""
        out: JSONObject = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if item.name == "extra" or (item.name in self._omit and value == self._omit[item.name]):
                continue
            out[self._json_names.get(item.name, item.name)] = _to_json(value)
        out.update(_to_json(self.extra))
        return out

    @classmethod
    def _known(cls) -> Tuple[str, ...]:
        return tuple(
            cls._json_names.get(item.name, item.name)
            for item in dataclasses.fields(cls)  # type: ignore[arg-type]
            if item.name != "extra"
        )

    @classmethod
    def _parts(cls, data: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        known, extra = _split(_mapping(data), cls._known())
        for attribute, name in cls._json_names.items():
            if name in known:
                known[attribute] = known.pop(name)
        return known, extra


# --- chat completions ---------------------------------------------------------------------------


@dataclass
class Usage(_Model):
    """Token counts of an answer, as the backend reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Usage:
        known, extra = cls._parts(data)
        return cls(
            prompt_tokens=_int(known.get("prompt_tokens")),
            completion_tokens=_int(known.get("completion_tokens")),
            total_tokens=_int(known.get("total_tokens")),
            extra=extra,
        )


@dataclass
class Message(_Model):
    """The assistant's message in a chat completion."""

    _omit: ClassVar[Dict[str, Any]] = {"tool_calls": None}

    role: str = "assistant"
    content: Optional[str] = None
    tool_calls: Optional[List[JSONObject]] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        known, extra = cls._parts(data)
        tool_calls = known.get("tool_calls")
        return cls(
            role=_str(known.get("role"), "assistant"),
            content=_opt_str(known.get("content")),
            tool_calls=list(tool_calls) if isinstance(tool_calls, list) else None,
            extra=extra,
        )



@dataclass
class Choice(_Model):
    """One choice of a chat completion."""

    index: int = 0
    message: Message = field(default_factory=Message)
    finish_reason: Optional[str] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Choice:
        known, extra = cls._parts(data)
        return cls(
            index=_int(known.get("index")),
            message=Message.from_dict(known.get("message")),
            finish_reason=_opt_str(known.get("finish_reason")),
            extra=extra,
        )


@dataclass
class ChatCompletion(_Model):
    """A chat completion (``object: "chat.completion"``). ``cached`` is true for a gateway cache hit."""

    _omit: ClassVar[Dict[str, Any]] = {"usage": None, "cached": False}

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: List[Choice] = field(default_factory=list)
    usage: Optional[Usage] = None
    cached: bool = False
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> ChatCompletion:
        known, extra = cls._parts(data)
        choices = known.get("choices")
        usage = known.get("usage")
        return cls(
            id=_str(known.get("id")),
            object=_str(known.get("object"), "chat.completion"),
            created=_int(known.get("created")),
            model=_str(known.get("model")),
            choices=[Choice.from_dict(item) for item in choices] if isinstance(choices, list) else [],
            usage=Usage.from_dict(usage) if isinstance(usage, Mapping) else None,
            cached=known.get("cached") is True,
            extra=extra,
        )

    @property
    def content(self) -> Optional[str]:
        """The first choice's message content (None when there is no choice or no content)."""
        return self.choices[0].message.content if self.choices else None


@dataclass
class Delta(_Model):
    """What a streamed chunk adds to a choice."""

    role: Optional[str] = None
    content: Optional[str] = None
    tool_calls: Optional[List[JSONObject]] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Delta:
        known, extra = cls._parts(data)
        tool_calls = known.get("tool_calls")
        return cls(
            role=_opt_str(known.get("role")),
            content=_opt_str(known.get("content")),
            tool_calls=list(tool_calls) if isinstance(tool_calls, list) else None,
            extra=extra,
        )

    def to_dict(self) -> JSONObject:
        return {key: value for key, value in super().to_dict().items() if value is not None}


@dataclass
class ChunkChoice(_Model):
    """One choice of a streamed chunk."""

    index: int = 0
    delta: Delta = field(default_factory=Delta)
    finish_reason: Optional[str] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> ChunkChoice:
        known, extra = cls._parts(data)
        return cls(
            index=_int(known.get("index")),
            delta=Delta.from_dict(known.get("delta")),
            finish_reason=_opt_str(known.get("finish_reason")),
            extra=extra,
        )


@dataclass
class ChatCompletionChunk(_Model):
    """One server-sent event of a streamed chat completion (``object: "chat.completion.chunk"``)."""

    _omit: ClassVar[Dict[str, Any]] = {"usage": None}

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: List[ChunkChoice] = field(default_factory=list)
    usage: Optional[Usage] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> ChatCompletionChunk:
        known, extra = cls._parts(data)
        choices = known.get("choices")
        usage = known.get("usage")
        return cls(
            id=_str(known.get("id")),
            object=_str(known.get("object"), "chat.completion.chunk"),
            created=_int(known.get("created")),
            model=_str(known.get("model")),
            choices=[ChunkChoice.from_dict(item) for item in choices] if isinstance(choices, list) else [],
            usage=Usage.from_dict(usage) if isinstance(usage, Mapping) else None,
            extra=extra,
        )

    @property
    def content(self) -> str:
        """The text this chunk adds to the first choice ("" when none)."""
        if not self.choices:
            return ""
        return self.choices[0].delta.content or ""


# --- embeddings ---------------------------------------------------------------------------------


@dataclass
class Embedding(_Model):
    """One embedding: a list of floats, or a base64 string with ``encoding_format: "base64"``."""

    index: int = 0
    embedding: Union[List[float], str] = field(default_factory=list)
    object: str = "embedding"
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Embedding:
        known, extra = cls._parts(data)
        vector = known.get("embedding")
        return cls(
            index=_int(known.get("index")),
            embedding=vector if isinstance(vector, (list, str)) else [],
            object=_str(known.get("object"), "embedding"),
            extra=extra,
        )


@dataclass
class EmbeddingUsage(_Model):
    """Token counts of an embeddings request."""

    prompt_tokens: int = 0
    total_tokens: int = 0
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> EmbeddingUsage:
        known, extra = cls._parts(data)
        return cls(
            prompt_tokens=_int(known.get("prompt_tokens")),
            total_tokens=_int(known.get("total_tokens")),
            extra=extra,
        )


@dataclass
class EmbeddingsResponse(_Model):
    """The answer of POST /v1/embeddings. ``cached`` is true for a gateway cache hit."""

    _omit: ClassVar[Dict[str, Any]] = {"cached": False}

    data: List[Embedding] = field(default_factory=list)
    model: str = ""
    usage: EmbeddingUsage = field(default_factory=EmbeddingUsage)
    object: str = "list"
    cached: bool = False
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> EmbeddingsResponse:
        known, extra = cls._parts(data)
        items = known.get("data")
        return cls(
            data=[Embedding.from_dict(item) for item in items] if isinstance(items, list) else [],
            model=_str(known.get("model")),
            usage=EmbeddingUsage.from_dict(known.get("usage")),
            object=_str(known.get("object"), "list"),
            cached=known.get("cached") is True,
            extra=extra,
        )


# --- models -------------------------------------------------------------------------------------


@dataclass
class Model(_Model):
    """A model the key may use."""

    id: str = ""
    object: str = "model"
    created: int = 0
    owned_by: str = ""
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> Model:
        known, extra = cls._parts(data)
        return cls(
            id=_str(known.get("id")),
            object=_str(known.get("object"), "model"),
            created=_int(known.get("created")),
            owned_by=_str(known.get("owned_by")),
            extra=extra,
        )


@dataclass
class ModelList(_Model):
    """The answer of GET /v1/models."""

    data: List[Model] = field(default_factory=list)
    object: str = "list"
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> ModelList:
        known, extra = cls._parts(data)
        items = known.get("data")
        return cls(
            data=[Model.from_dict(item) for item in items] if isinstance(items, list) else [],
            object=_str(known.get("object"), "list"),
            extra=extra,
        )

    @property
    def ids(self) -> List[str]:
        """The model names, in the gateway's order."""
        return [model.id for model in self.data]


# --- admin: keys --------------------------------------------------------------------------------


@dataclass
class ApiKey(_Model):
    """An API key's record from the admin API; ``key`` (the secret) is set only in the answer to create."""

    _omit: ClassVar[Dict[str, Any]] = {"key": None}

    id: str = ""
    name: str = ""
    created_at: Optional[str] = None
    expires_at: Optional[str] = None
    revoked_at: Optional[str] = None
    models: Optional[List[str]] = None
    rate_limit: Optional[JSONObject] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    source: str = "store"
    key: Optional[str] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> ApiKey:
        known, extra = cls._parts(data)
        models = known.get("models")
        rate_limit = known.get("rate_limit")
        metadata = known.get("metadata")
        return cls(
            id=_str(known.get("id")),
            name=_str(known.get("name")),
            created_at=_opt_str(known.get("created_at")),
            expires_at=_opt_str(known.get("expires_at")),
            revoked_at=_opt_str(known.get("revoked_at")),
            models=[str(item) for item in models] if isinstance(models, list) else None,
            rate_limit=dict(rate_limit) if isinstance(rate_limit, Mapping) else None,
            metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, Mapping) else {},
            source=_str(known.get("source"), "store"),
            key=_opt_str(known.get("key")),
            extra=extra,
        )


    @property
    def revoked(self) -> bool:
        """Whether the key has been revoked."""
        return self.revoked_at is not None

    def __repr__(self) -> str:
        # The secret stays out of logs and tracebacks.
        shown = dataclasses.replace(self, key="<hidden>") if self.key is not None else self
        fields = ", ".join(
            f"{item.name}={getattr(shown, item.name)!r}"
            for item in dataclasses.fields(shown)
            if item.name != "extra" or shown.extra
        )
        return f"ApiKey({fields})"


# --- admin: usage -------------------------------------------------------------------------------


@dataclass
class UsageRow(_Model):
    """One row of GET /admin/usage; ``key``, ``model``, ``day`` and ``hour`` are set as grouped by."""

    _omit: ClassVar[Dict[str, Any]] = {"key": None, "model": None, "day": None, "hour": None}

    requests: int = 0
    errors: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: Optional[float] = None
    key: Optional[str] = None
    model: Optional[str] = None
    day: Optional[str] = None
    hour: Optional[str] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> UsageRow:
        known, extra = cls._parts(data)
        cost = known.get("cost")
        return cls(
            requests=_int(known.get("requests")),
            errors=_int(known.get("errors")),
            cached=_int(known.get("cached")),
            prompt_tokens=_int(known.get("prompt_tokens")),
            completion_tokens=_int(known.get("completion_tokens")),
            total_tokens=_int(known.get("total_tokens")),
            cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
            key=_opt_str(known.get("key")),
            model=_opt_str(known.get("model")),
            day=_opt_str(known.get("day")),
            hour=_opt_str(known.get("hour")),
            extra=extra,
        )



@dataclass
class UsageReport(_Model):
    """The answer of GET /admin/usage: the rows and the interval used (``from_`` is JSON's ``from``)."""

    _json_names: ClassVar[Dict[str, str]] = {"from_": "from"}

    data: List[UsageRow] = field(default_factory=list)
    from_: Optional[str] = None
    to: Optional[str] = None
    extra: JSONObject = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> UsageReport:
        known, extra = cls._parts(data)
        rows = known.get("data")
        return cls(
            data=[UsageRow.from_dict(item) for item in rows] if isinstance(rows, list) else [],
            from_=_opt_str(known.get("from_")),
            to=_opt_str(known.get("to")),
            extra=extra,
        )


__all__ = [
    "ApiKey",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "Delta",
    "Embedding",
    "EmbeddingUsage",
    "EmbeddingsResponse",
    "JSONObject",
    "Message",
    "Model",
    "ModelList",
    "Usage",
    "UsageReport",
    "UsageRow",
]
