"""Streamed chat completions: server-sent events read line by line from the HTTP response."""

from __future__ import annotations

import http.client
import json
import socket
from types import TracebackType
from typing import Any, Callable, Iterator, List, Optional, Type

from .errors import APIConnectionError, APITimeoutError, GatewayError, error_from_problem
from .headers import ResponseInfo
from .types import ChatCompletionChunk


def iter_sse_data(readline: Callable[[], bytes]) -> Iterator[str]:
    """The ``data`` of each server-sent event, as lines arrive (``readline`` returns b"" at the end).

    Comments, ``event``, ``id`` and ``retry`` fields are skipped; several ``data`` lines of one event are
    joined with newlines (the SSE specification). An event cut off by the end of the body is still given.
    """
    data: List[str] = []
    while True:
        raw = readline()
        if not raw:
            if data:
                yield "\n".join(data)
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, (socket.timeout, TimeoutError))


class ChatCompletionStream(Iterator[ChatCompletionChunk]):
    """An iterator of :class:`ChatCompletionChunk` over a streamed chat completion.

    The request has been answered with status 200 when this object exists; ``response`` holds that
    answer's headers (request id, cache status, backend, rate limits). Iteration stops at ``data: [DONE]``.
    An error event (the gateway's problem object, sent when the answer fails after it started) raises
    :class:`GatewayError` with ``in_stream`` true; a body that ends without ``[DONE]`` or a broken
    connection raises :class:`APIConnectionError`. A stream is never retried. Use it in a ``with`` block,
    or call :meth:`close`, to release the connection when you stop early (the gateway then cancels the
    upstream request).
    """

    def __init__(self, response: Any, info: ResponseInfo) -> None:
        self.response = info
        self._raw = response
        self._events = self._iterate()
        self.done = False
        self.closed = False

    def __iter__(self) -> ChatCompletionStream:
        return self

    def __next__(self) -> ChatCompletionChunk:
        return next(self._events)

    def __enter__(self) -> ChatCompletionStream:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection; iteration ends."""
        if self.closed:
            return
        self.closed = True
        try:
            self._events.close()
        except ValueError:
            pass  # being iterated in another thread: closing the response below ends that
        try:
            self._raw.close()
        except (OSError, http.client.HTTPException):
            pass

    def text(self) -> str:
        """Reads the rest of the stream and returns the first choice's content, joined."""
        return "".join(chunk.content for chunk in self)

    def _iterate(self) -> Iterator[ChatCompletionChunk]:
        info = self.response
        try:
            for data in iter_sse_data(self._raw.readline):
                if data == "[DONE]":
                    self.done = True
                    return
                try:
                    parsed = json.loads(data)
                except ValueError:
                    raise GatewayError(
                        f"The stream sent an event that is not JSON: {data[:200]!r}",
                        request_id=info.request_id,
                        headers=info.headers,
                        in_stream=True,
                    ) from None
                if isinstance(parsed, dict) and "error" in parsed and "choices" not in parsed:
                    raise error_from_problem(
                        parsed, headers=info.headers, request_id=info.request_id, in_stream=True
                    )
                yield ChatCompletionChunk.from_dict(parsed)
            raise APIConnectionError(
                "The stream ended before data: [DONE]",
                request_id=info.request_id,
                headers=info.headers,
                in_stream=True,
            )
        except (OSError, http.client.HTTPException, ValueError) as error:
            # ValueError: reading a response that was closed meanwhile.
            if self.closed:
                return
            cls = APITimeoutError if _is_timeout(error) else APIConnectionError
            raise cls(
                f"The stream broke: {error or error.__class__.__name__}",
                request_id=info.request_id,
                headers=info.headers,
                in_stream=True,
            ) from error
        finally:
            try:
                self._raw.close()
            except (OSError, http.client.HTTPException):
                pass


__all__ = ["ChatCompletionStream", "iter_sse_data"]
