"""The client's behaviour on answers a healthy gateway does not give on demand (5xx, broken streams,
an error event mid-stream, timeouts, redirects), against a scripted local HTTP server; and the parsers,
the dataclasses, and the package's compatibility with Python 3.9 and ``-W error``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, List, Optional

# The tests' helpers and the package, whichever way unittest was started.
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from gateway_process import PACKAGE_ROOT  # noqa: E402

from ai_gateway_client import (  # noqa: E402
    APIConnectionError,
    APITimeoutError,
    ApiKey,
    BadRequestError,
    ChatCompletion,
    GatewayClient,
    GatewayError,
    RateLimitError,
    ResponseInfo,
    ServerError,
    UsageReport,
    UsageRow,
)
from ai_gateway_client.headers import parse_openai_duration, parse_retry_after  # noqa: E402
from ai_gateway_client.streaming import iter_sse_data  # noqa: E402

Script = Callable[["Handler"], None]

COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
}


def chunk(content: str) -> Dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


def problem(status: int, code: str, title: str) -> Dict[str, Any]:
    return {
        "type": f"https://ai-gateway.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": f"{title} for the test",
        "instance": "/v1/chat/completions",
        "request_id": "req-1",
        "error": {"message": f"{title} for the test", "type": "server_error", "code": code, "param": None},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Stub  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append((self.command, self.path, headers, self.body))
        script = self.server.scripts.pop(0) if self.server.scripts else self.server.fallback
        script(self)

    do_GET = do_POST = do_DELETE = do_PATCH = handle_any

    def send_json(self, status: int, payload: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        content_type = "application/problem+json" if status >= 400 else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", "req-1")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self) -> None:
        """Response headers of a stream, sent chunked as the gateway sends them."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("X-Request-ID", "req-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True

    def event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.scripts: List[Script] = []
        self.fallback: Script = lambda handler: handler.send_json(200, COMPLETION)
        self.requests: List[Any] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a timeout test) is expected; anything else is printed.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def ok(handler: Handler) -> None:
    handler.send_json(200, COMPLETION)


def fail(status: int, code: str, headers: Optional[Dict[str, str]] = None) -> Script:
    return lambda handler: handler.send_json(status, problem(status, code, "Failure"), headers)


class StubTest(unittest.TestCase):
    stub: ClassVar[Stub]

    @classmethod
    def setUpClass(cls) -> None:
        cls.stub = Stub()
        thread = threading.Thread(target=cls.stub.serve_forever, daemon=True)
        thread.start()
        cls.addClassCleanup(cls.stub.server_close)
        cls.addClassCleanup(cls.stub.shutdown)

    def setUp(self) -> None:
        self.stub.scripts = []
        self.stub.requests = []

    def client(self, **options: Any) -> GatewayClient:
        settings: Dict[str, Any] = {
            "api_key": "sk-test",
            "retry_backoff": 0.02,
            "retry_backoff_max": 0.05,
            "proxies": {},
        }
        settings.update(options)
        return GatewayClient(self.stub.url + "/v1", **settings)

    def chat(self, client: GatewayClient) -> ChatCompletion:
        return client.chat_completions("m", [{"role": "user", "content": "hi"}])

    def test_the_request_carries_the_key_and_a_json_body(self) -> None:
        self.stub.scripts = [ok]
        self.chat(self.client())
        method, path, headers, body = self.stub.requests[0]
        self.assertEqual((method, path), ("POST", "/v1/chat/completions"))
        self.assertEqual(headers["authorization"], "Bearer sk-test")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertTrue(headers["user-agent"].startswith("ai-gateway-python/"))
        self.assertEqual(json.loads(body), {"model": "m", "messages": [{"role": "user", "content": "hi"}]})

    def test_503_with_retry_after_ms_is_retried_after_that_wait(self) -> None:
        unavailable = fail(503, "service_unavailable", {"Retry-After": "1", "retry-after-ms": "150"})
        self.stub.scripts = [unavailable, unavailable]
        self.stub.scripts.append(ok)
        client = self.client()
        started = time.monotonic()
        self.assertEqual(self.chat(client).content, "ok")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.3)  # retry-after-ms (150 ms), twice
        self.assertLess(elapsed, 2.0)  # not Retry-After's 1 s, twice
        self.assertEqual(len(self.stub.requests), 3)
        info = client.last_response
        assert info is not None
        self.assertEqual(info.retries, 2)

    def test_every_retryable_status_is_retried_and_the_count_is_bounded(self) -> None:
        cases = ((429, "rate_limit_exceeded"), (502, "upstream_error"), (504, "upstream_timeout"))
        for status, code in cases:
            with self.subTest(status=status):
                self.stub.requests = []
                self.stub.scripts = [fail(status, code)] * 5
                with self.assertRaises(GatewayError) as caught:
                    self.chat(self.client(max_retries=2))
                self.assertEqual(caught.exception.status, status)
                self.assertEqual(caught.exception.code, code)
                self.assertEqual(len(self.stub.requests), 3)
        self.assertIsInstance(caught.exception, ServerError)

    def test_other_errors_are_not_retried(self) -> None:
        for status, code in ((400, "invalid_request"), (500, "internal_error"), (413, "payload_too_large")):
            with self.subTest(status=status):
                self.stub.requests = []
                self.stub.scripts = [fail(status, code), ok]
                with self.assertRaises(GatewayError) as caught:
                    self.chat(self.client())
                self.assertEqual(caught.exception.status, status)
                self.assertEqual(len(self.stub.requests), 1)
        self.stub.scripts = []

    def test_a_wait_past_retry_max_elapsed_is_not_made(self) -> None:
        self.stub.scripts = [fail(429, "rate_limit_exceeded", {"Retry-After": "30"}), ok]
        started = time.monotonic()
        with self.assertRaises(RateLimitError) as caught:
            self.chat(self.client(retry_max_elapsed=5))
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(caught.exception.retry_after, 30.0)
        self.assertEqual(len(self.stub.requests), 1)

    def test_a_dropped_connection_is_retried(self) -> None:
        def drop(handler: Handler) -> None:
            handler.close_connection = True
            handler.wfile.flush()
            handler.connection.close()

        self.stub.scripts = [drop, drop, ok]
        self.assertEqual(self.chat(self.client()).content, "ok")
        self.assertEqual(len(self.stub.requests), 3)

        self.stub.requests = []
        self.stub.scripts = [drop] * 3
        with self.assertRaises(APIConnectionError) as caught:
            self.chat(self.client(max_retries=1))
        self.assertIsNone(caught.exception.status)
        self.assertEqual(len(self.stub.requests), 2)
        self.stub.scripts = []

    def test_a_timeout_raises_api_timeout_error(self) -> None:
        answer = threading.Event()

        def late(handler: Handler) -> None:
            answer.wait(10)
            ok(handler)

        self.stub.scripts = [late]
        started = time.monotonic()
        try:
            with self.assertRaises(APITimeoutError) as caught:
                self.chat(self.client(max_retries=0, timeout=0.2))
        finally:
            answer.set()
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertIsNone(caught.exception.status)

        # A per-call timeout overrides the client's.
        def slow(handler: Handler) -> None:
            time.sleep(0.4)
            ok(handler)

        self.stub.scripts = [slow]
        client = self.client(max_retries=0, timeout=0.2)
        completion = client.chat_completions("m", [{"role": "user", "content": "hi"}], timeout=10)
        self.assertEqual(completion.content, "ok")

    def test_a_redirect_is_not_followed(self) -> None:
        def redirect(handler: Handler) -> None:
            handler.send_response(307)
            handler.send_header("Location", self.stub.url + "/elsewhere")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        self.stub.scripts = [redirect, ok]
        with self.assertRaises(GatewayError) as caught:
            self.chat(self.client())
        self.assertEqual(caught.exception.status, 307)
        self.assertEqual(len(self.stub.requests), 1)
        self.stub.scripts = []

    def test_an_error_body_that_is_not_a_problem_still_gives_an_error(self) -> None:
        def html(handler: Handler) -> None:
            data = b"<html>Bad gateway from a proxy</html>"
            handler.send_response(502)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

        self.stub.scripts = [html]
        with self.assertRaises(ServerError) as caught:
            self.chat(self.client(max_retries=0))
        self.assertEqual(caught.exception.status, 502)
        self.assertIn("Bad gateway from a proxy", caught.exception.detail or "")
        self.assertIsNone(caught.exception.code)

    # --- streams ------------------------------------------------------------------------------

    def test_chunks_arrive_as_they_are_sent(self) -> None:
        release = threading.Event()
        released: List[bool] = []

        def slow_stream(handler: Handler) -> None:
            handler.start_stream()
            handler.event(json.dumps(chunk("first")))
            released.append(release.wait(5))  # False: the client did not see "first" in time
            handler.event(json.dumps(chunk(" second")))
            handler.event("[DONE]")
            handler.end_stream()

        self.stub.scripts = [slow_stream]
        with self.client().stream("m", [{"role": "user", "content": "hi"}]) as stream:
            self.assertEqual(next(stream).content, "first")  # before the rest was sent
            release.set()
            self.assertEqual([item.content for item in stream], [" second"])
            self.assertEqual(released, [True])
            self.assertTrue(stream.done)
            self.assertEqual(stream.response.request_id, "req-stream")

    def test_an_error_event_mid_stream_raises_and_is_not_retried(self) -> None:
        def broken(handler: Handler) -> None:
            handler.start_stream()
            handler.event(json.dumps(chunk("partial")))
            handler.event(json.dumps(problem(502, "upstream_error", "Bad Gateway")))
            handler.end_stream()

        self.stub.scripts = [broken, broken, broken]
        stream = self.client(max_retries=2).stream("m", [{"role": "user", "content": "hi"}])
        received: List[str] = []
        with self.assertRaises(ServerError) as caught:
            for item in stream:
                received.append(item.content)
        self.assertEqual(received, ["partial"])
        error = caught.exception
        self.assertTrue(error.in_stream)
        self.assertEqual(error.status, 502)
        self.assertEqual(error.code, "upstream_error")
        self.assertEqual(error.request_id, "req-1")
        self.assertEqual(len(self.stub.requests), 1)
        self.assertFalse(stream.done)
        self.stub.scripts = []

    def test_a_stream_that_ends_without_done_raises(self) -> None:
        def cut(handler: Handler) -> None:  # the connection closes mid-body
            handler.start_stream()
            handler.event(json.dumps(chunk("partial")))

        def ended(handler: Handler) -> None:  # the body ends, without [DONE]
            handler.start_stream()
            handler.event(json.dumps(chunk("partial")))
            handler.end_stream()

        for script in (cut, ended):
            with self.subTest(script=script.__name__):
                self.stub.requests = []
                self.stub.scripts = [script, script]
                stream = self.client().stream("m", [{"role": "user", "content": "hi"}])
                self.assertEqual(next(stream).content, "partial")
                with self.assertRaises(APIConnectionError) as caught:
                    next(stream)
                self.assertTrue(caught.exception.in_stream)
                self.assertEqual(len(self.stub.requests), 1)
        self.stub.scripts = []

    def test_a_stream_refused_before_it_starts_is_retried(self) -> None:
        def good(handler: Handler) -> None:
            handler.start_stream()
            handler.event(json.dumps(chunk("hello")))
            handler.event("[DONE]")
            handler.end_stream()

        self.stub.scripts = [fail(503, "service_unavailable", {"retry-after-ms": "10"}), good]
        stream = self.client().stream("m", [{"role": "user", "content": "hi"}])
        self.assertEqual(stream.text(), "hello")
        self.assertEqual(stream.response.retries, 1)
        self.assertEqual(len(self.stub.requests), 2)
        _, _, headers, body = self.stub.requests[1]
        self.assertEqual(headers["accept"], "text/event-stream")
        self.assertIs(json.loads(body)["stream"], True)

    # --- admin requests -----------------------------------------------------------------------

    def test_admin_requests_use_the_admin_token_and_the_right_paths(self) -> None:
        key = {"id": "key/1", "name": "n", "metadata": {}, "source": "store", "future_field": 1}
        self.stub.scripts = [
            lambda handler: handler.send_json(200, key),
            lambda handler: handler.send_json(200, {"data": [], "from": "a", "to": "b"}),
            lambda handler: handler.send_json(200, {"deleted": 3}),
        ]
        client = self.client(admin_token="admin-secret")
        updated = client.admin.keys.update("key/1", models=None, metadata={"a": "b"})
        self.assertEqual(updated.extra, {"future_field": 1})
        report = client.admin.usage(group_by=["key", "day"], from_="7d", model="llama*")
        self.assertIsInstance(report, UsageReport)
        self.assertEqual((report.from_, report.to), ("a", "b"))
        self.assertEqual(client.admin.purge_cache("team a"), 3)
        (m1, p1, h1, b1), (m2, p2, h2, _), (m3, p3, _, _) = self.stub.requests
        self.assertEqual((m1, p1), ("PATCH", "/admin/keys/key%2F1"))
        self.assertEqual(h1["authorization"], "Bearer admin-secret")
        self.assertEqual(json.loads(b1), {"models": None, "metadata": {"a": "b"}})
        self.assertEqual((m2, p2), ("GET", "/admin/usage?model=llama%2A&from=7d&group_by=key%2Cday"))
        self.assertEqual((m3, p3), ("DELETE", "/admin/cache?key=team+a"))


class ParserTest(unittest.TestCase):
    def test_sse_events(self) -> None:
        body = (
            b": a comment\r\n"
            b"event: message\r\n"
            b"data: one\r\n"
            b"\r\n"
            b"data: two\n"
            b"data:three\n"
            b"id: 7\n"
            b"\n"
            b"\n"
            b"data: [DONE]\n\n"
            b"data: cut off"
        )
        lines = iter(body.splitlines(keepends=True))
        events = list(iter_sse_data(lambda: next(lines, b"")))
        self.assertEqual(events, ["one", "two\nthree", "[DONE]", "cut off"])

    def test_rate_limit_headers(self) -> None:
        info = ResponseInfo.from_headers(
            200,
            {
                "X-Request-ID": "abc",
                "X-Cache": "hit",
                "X-Gateway-Backend": "vllm",
                "X-Gateway-Attempts": "2",
                "RateLimit-Policy": '"requests";q=100;w=60, "tokens-day";q=1000000;w=86400',
                "RateLimit": '"requests";r=42;t=17, "tokens-day";r=999000;t=3600',
                "x-ratelimit-limit-requests": "100",
                "x-ratelimit-remaining-requests": "42",
                "x-ratelimit-reset-requests": "16.5s",
                "x-ratelimit-limit-tokens": "1000000",
                "x-ratelimit-remaining-tokens": "999000",
                "x-ratelimit-reset-tokens": "1h0m0s",
            },
        )
        self.assertEqual(info.request_id, "abc")
        self.assertEqual(info.cache, "HIT")
        self.assertTrue(info.cache_hit)
        self.assertEqual(info.backend, "vllm")
        self.assertEqual(info.attempts, 2)
        limits = info.rate_limit
        self.assertEqual(limits.policies["requests"].quota, 100)
        self.assertEqual(limits.policies["tokens-day"].window, 86400)
        self.assertEqual(limits.limits["requests"].remaining, 42)
        self.assertEqual(limits.limits["tokens-day"].reset, 3600)
        self.assertEqual(limits.remaining_requests, 42)
        self.assertEqual(limits.reset_requests, 16.5)
        self.assertEqual(limits.reset_tokens, 3600.0)
        self.assertFalse(ResponseInfo.from_headers(200, {}).rate_limit.present)

    def test_durations_and_retry_after(self) -> None:
        self.assertEqual(parse_openai_duration("6m0s"), 360.0)
        self.assertEqual(parse_openai_duration("20ms"), 0.02)
        self.assertEqual(parse_openai_duration("1h2m3.5s"), 3723.5)
        self.assertIsNone(parse_openai_duration("soon"))
        self.assertEqual(parse_retry_after({"retry-after": "3"}), 3.0)
        self.assertEqual(parse_retry_after({"retry-after": "3", "retry-after-ms": "2500"}), 2.5)
        self.assertEqual(
            parse_retry_after({"retry-after": "Fri, 27 Nov 2026 13:00:10 GMT"}, now=1795784400.0), 10.0
        )
        self.assertIsNone(parse_retry_after({"retry-after": "whenever"}))
        self.assertIsNone(parse_retry_after({}))

    def test_answers_keep_unknown_fields_and_round_trip(self) -> None:
        document = {
            **COMPLETION,
            "system_fingerprint": "fp",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "t"}],
                        "refusal": None,
                    },
                    "finish_reason": "tool_calls",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3, "details": {"x": 1}},
            "cached": True,
        }
        completion = ChatCompletion.from_dict(document)
        self.assertEqual(completion.extra, {"system_fingerprint": "fp"})
        self.assertEqual(completion.choices[0].extra, {"logprobs": None})
        self.assertEqual(completion.choices[0].message.tool_calls, [{"id": "t"}])
        self.assertTrue(completion.cached)
        self.assertEqual(completion.to_dict(), document)
        self.assertEqual(UsageReport.from_dict({"data": [], "from": "x"}).from_, "x")
        # What the gateway leaves out stays out.
        self.assertEqual(ChatCompletion.from_dict(COMPLETION).to_dict(), COMPLETION)
        row = {
            "key": "team-a",
            "requests": 3,
            "errors": 1,
            "cached": 1,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "cost": None,
        }
        self.assertEqual(UsageRow.from_dict(row).to_dict(), row)
        report = UsageReport.from_dict({"data": [row], "from": "a", "to": "b"})
        self.assertEqual(report.to_dict(), {"data": [row], "from": "a", "to": "b"})
        record = {
            "id": "k",
            "name": "n",
            "created_at": None,
            "expires_at": None,
            "revoked_at": None,
            "models": None,
            "rate_limit": None,
            "metadata": {},
            "source": "config",
        }
        self.assertEqual(ApiKey.from_dict(record).to_dict(), record)
        self.assertEqual(ApiKey.from_dict({**record, "key": "sk-gw-x"}).to_dict()["key"], "sk-gw-x")


class PackageTest(unittest.TestCase):
    def test_every_module_parses_as_python_3_9_and_postpones_annotations(self) -> None:
        modules = sorted((PACKAGE_ROOT / "ai_gateway_client").glob("*.py"))
        self.assertGreater(len(modules), 3)
        for path in modules:
            source = path.read_text(encoding="utf-8")
            with self.subTest(module=path.name):
                ast.parse(source, filename=str(path), feature_version=(3, 9))
                if path.name not in ("__init__.py", "_version.py"):
                    self.assertIn("from __future__ import annotations", source)
        self.assertTrue((PACKAGE_ROOT / "ai_gateway_client" / "py.typed").exists())

    def test_the_package_imports_with_warnings_as_errors(self) -> None:
        result = subprocess.run(
            [
                sys.executable,
                "-W",
                "error",
                "-c",
                "import ai_gateway_client; print(ai_gateway_client.__version__)",
            ],
            cwd=str(PACKAGE_ROOT),
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.strip(), r"^\d+\.\d+\.\d+$")

    def test_errors_are_classified_by_status(self) -> None:
        from ai_gateway_client.errors import error_from_response

        error = error_from_response(422, b'{"detail": "unprocessable"}', {})
        self.assertIsInstance(error, BadRequestError)
        self.assertEqual(str(error), "422: unprocessable")


if __name__ == "__main__":
    unittest.main()
