"""The Python client against a real gateway (``node dist/cli.js serve``) that this module starts: every
method, a stream, a 401, a 429 with the retry honoured, a cache hit, the admin API.

Run from the repository root after ``npm run build``:
``python3 -m unittest discover -s clients/python/tests -v``.
"""

from __future__ import annotations

import base64
import datetime
import socket
import sys
import time
import unittest
import uuid
from pathlib import Path
from typing import Any, ClassVar, Dict, List

# The tests' helpers and the package, whichever way unittest was started.
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent)]

from gateway_process import GatewayProcess  # noqa: E402

from ai_gateway_client import (  # noqa: E402
    APIConnectionError,
    ApiKey,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionStream,
    ConflictError,
    EmbeddingsResponse,
    GatewayClient,
    GatewayError,
    ModelList,
    NotFoundError,
    RateLimitError,
    UsageReport,
)


def user(text: str) -> List[Dict[str, Any]]:
    return [{"role": "user", "content": text}]


def unique(text: str) -> str:
    """A prompt no other test sends: its answer is not in the cache yet."""
    return f"{text} {uuid.uuid4().hex}"


class GatewayClientTest(unittest.TestCase):
    gateway: ClassVar[GatewayProcess]
    client: ClassVar[GatewayClient]

    @classmethod
    def setUpClass(cls) -> None:
        cls.gateway = GatewayProcess()
        cls.addClassCleanup(cls.gateway.stop)
        cls.gateway.start()
        cls.client = cls.new_client()

    @classmethod
    def tearDownClass(cls) -> None:
        code = cls.gateway.stop()
        if code not in (0, None):
            raise AssertionError(f"the gateway exited with {code}; stderr: {''.join(cls.gateway.stderr)}")

    @classmethod
    def new_client(cls, **options: Any) -> GatewayClient:
        settings: Dict[str, Any] = {
            "api_key": cls.gateway.key,
            "admin_token": cls.gateway.admin_token,
            "timeout": 10.0,
            "proxies": {},  # 127.0.0.1 directly, whatever http_proxy says
        }
        settings.update(options)
        return GatewayClient(cls.gateway.url, **settings)

    # --- chat completions ---------------------------------------------------------------------

    def test_chat_completion_is_typed_and_the_headers_are_read(self) -> None:
        completion = self.client.chat_completions("demo", user(unique("Hello")), temperature=0)
        self.assertIsInstance(completion, ChatCompletion)
        self.assertTrue(completion.id.startswith("chatcmpl-"))
        self.assertEqual(completion.object, "chat.completion")
        self.assertEqual(completion.model, "demo")
        self.assertEqual(len(completion.choices), 1)
        choice = completion.choices[0]
        self.assertEqual(choice.message.role, "assistant")
        self.assertIn("You said", choice.message.content or "")
        self.assertEqual(completion.content, choice.message.content)
        self.assertEqual(choice.finish_reason, "stop")
        self.assertIsNotNone(completion.usage)
        assert completion.usage is not None
        self.assertEqual(completion.usage.prompt_tokens, 2)
        self.assertEqual(
            completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens
        )
        self.assertFalse(completion.cached)
        self.assertEqual(completion.to_dict()["choices"][0]["message"]["content"], choice.message.content)

        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.status, 200)
        self.assertRegex(info.request_id or "", r"^[0-9a-f-]{36}$")
        self.assertEqual(info.cache, "MISS")
        self.assertEqual(info.backend, "demo")
        self.assertEqual(info.attempts, 1)
        self.assertEqual(info.retries, 0)
        # The default policy of the config, 1000 requests a minute.
        self.assertTrue(info.rate_limit.present)
        self.assertEqual(info.rate_limit.policies["requests"].quota, 1000)
        self.assertEqual(info.rate_limit.policies["requests"].window, 60)
        self.assertIsNotNone(info.rate_limit.limits["requests"].remaining)
        self.assertEqual(info.rate_limit.limit_requests, 1000)
        self.assertIsNotNone(info.rate_limit.remaining_requests)
        self.assertIsNotNone(info.rate_limit.reset_requests)

    def test_chat_completions_create_takes_openai_keywords(self) -> None:
        completion = self.client.chat.completions.create(
            model="demo", messages=user(unique("Count")), max_tokens=3, stop=None
        )
        self.assertIsInstance(completion, ChatCompletion)
        self.assertEqual(completion.choices[0].finish_reason, "length")
        assert completion.usage is not None
        self.assertEqual(completion.usage.completion_tokens, 3)

    def test_a_request_id_and_other_headers_can_be_sent(self) -> None:
        request_id = f"py-{uuid.uuid4().hex}"
        self.client.chat_completions(
            "demo", user(unique("Trace me")), extra_headers={"X-Request-ID": request_id}
        )
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.request_id, request_id)

    def test_chat_completions_refuses_stream_true(self) -> None:
        with self.assertRaises(ValueError):
            self.client.chat_completions("demo", user("x"), stream=True)

    # --- streaming ----------------------------------------------------------------------------

    def test_stream_iterates_chunks_until_done(self) -> None:
        prompt = unique("Stream to me")
        no_store = {"Cache-Control": "no-store"}
        whole = self.client.chat_completions("demo", user(prompt), extra_headers=no_store)
        with self.client.stream(
            "demo", user(prompt), stream_options={"include_usage": True}, extra_headers=no_store
        ) as stream:
            self.assertIsInstance(stream, ChatCompletionStream)
            self.assertEqual(stream.response.status, 200)
            self.assertEqual(stream.response.backend, "demo")
            self.assertEqual(stream.response.cache, "BYPASS")
            self.assertEqual(stream.response.headers["content-type"].split(";")[0], "text/event-stream")
            self.assertIs(self.client.last_response, stream.response)
            chunks = list(stream)
        self.assertTrue(stream.done)
        self.assertGreater(len(chunks), 3)
        for chunk in chunks:
            self.assertIsInstance(chunk, ChatCompletionChunk)
            self.assertEqual(chunk.object, "chat.completion.chunk")
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(chunk.content for chunk in chunks)
        self.assertEqual(text, whole.content)
        finishing = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
        self.assertEqual(finishing[-1].choices[0].finish_reason, "stop")
        self.assertEqual(chunks[-1].choices, [])
        assert chunks[-1].usage is not None and whole.usage is not None
        self.assertEqual(chunks[-1].usage.completion_tokens, whole.usage.completion_tokens)

    def test_create_with_stream_true_returns_a_stream(self) -> None:
        stream = self.client.chat.completions.create(model="demo", messages=user(unique("Hi")), stream=True)
        self.assertIsInstance(stream, ChatCompletionStream)
        self.assertIn("You said", stream.text())
        self.assertTrue(stream.done)

    def test_a_stream_closed_early_stops(self) -> None:
        stream = self.client.stream("demo", user(unique("Stop early")))
        first = next(stream)
        self.assertEqual(first.choices[0].delta.role, "assistant")
        stream.close()
        self.assertEqual(list(stream), [])
        self.assertFalse(stream.done)
        # The client still works afterwards.
        self.assertIn("You said", self.client.chat_completions("demo", user(unique("after"))).content or "")

    def test_a_stream_that_is_refused_raises_before_iterating(self) -> None:
        bad = self.new_client(api_key="sk-gw-" + "0" * 40)
        with self.assertRaises(AuthenticationError) as caught:
            bad.stream("demo", user("x"))
        self.assertEqual(caught.exception.status, 401)
        self.assertFalse(caught.exception.in_stream)

    # --- embeddings and models ----------------------------------------------------------------

    def test_embeddings(self) -> None:
        answer = self.client.embeddings(model="demo", input=["alpha", "beta"])
        self.assertIsInstance(answer, EmbeddingsResponse)
        self.assertEqual(answer.object, "list")
        self.assertEqual(answer.model, "demo")
        self.assertEqual([item.index for item in answer.data], [0, 1])
        vector = answer.data[0].embedding
        assert isinstance(vector, list)
        self.assertEqual(len(vector), 16)
        self.assertAlmostEqual(sum(value * value for value in vector), 1.0, places=3)
        self.assertEqual(answer.usage.prompt_tokens, 2)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.backend, "demo")
        self.assertIn(info.cache, ("MISS", "HIT"))

        same = self.client.embeddings.create(model="demo", input="alpha", encoding_format="base64")
        encoded = same.data[0].embedding
        assert isinstance(encoded, str)
        self.assertEqual(len(base64.b64decode(encoded)), 16 * 4)

        direct = self.client.create_embeddings("demo", "alpha")
        self.assertEqual(direct.data[0].embedding, vector)

    def test_models(self) -> None:
        models = self.client.models()
        self.assertIsInstance(models, ModelList)
        self.assertEqual(models.object, "list")
        self.assertIn("demo", models.ids)
        self.assertEqual(models.data[0].object, "model")
        self.assertEqual(self.client.models.list().ids, models.ids)
        self.assertEqual(self.client.list_models().ids, models.ids)
        info = self.client.last_response
        assert info is not None
        self.assertIsNotNone(info.request_id)

    # --- errors -------------------------------------------------------------------------------

    def test_401_is_an_authentication_error_with_the_problem_details(self) -> None:
        bad = self.new_client(api_key="sk-gw-" + "Z" * 40)
        with self.assertRaises(AuthenticationError) as caught:
            bad.chat_completions("demo", user("x"))
        error = caught.exception
        self.assertIsInstance(error, GatewayError)
        self.assertEqual(error.status, 401)
        self.assertEqual(error.code, "invalid_api_key")
        self.assertEqual(error.type, "https://ai-gateway.dev/problems/invalid-api-key")
        self.assertEqual(error.error_type, "authentication_error")
        self.assertEqual(error.title, "Unauthorized")
        self.assertTrue(error.detail)
        self.assertEqual(error.instance, "/v1/chat/completions")
        self.assertIsNone(error.retry_after)
        info = bad.last_response
        assert info is not None
        self.assertEqual(info.status, 401)
        self.assertEqual(info.retries, 0)  # a 401 is not retried
        self.assertEqual(error.request_id, info.request_id)
        self.assertIn("invalid_api_key", str(error))
        self.assertIn(error.request_id or "?", str(error))

    def test_an_unknown_model_is_not_found(self) -> None:
        with self.assertRaises(NotFoundError) as caught:
            self.client.chat_completions("no-such-model", user("x"))
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(caught.exception.code, "model_not_found")
        self.assertEqual(caught.exception.param, "model")

    def test_an_invalid_request_is_a_bad_request(self) -> None:
        with self.assertRaises(BadRequestError) as caught:
            self.client.chat_completions("demo", [], temperature=5)
        error = caught.exception
        self.assertEqual(error.status, 400)
        self.assertEqual(error.code, "invalid_request")
        self.assertIn("temperature", error.detail or "")

    def test_429_is_retried_after_the_wait_the_gateway_asks_for(self) -> None:
        # One retry, and a backoff of 5-10 s: the call succeeds within 5 s only if the retry waited what
        # the 429 asked for (under a second here), neither less (another 429) nor more.
        limited = self.new_client(
            api_key=self.gateway.limited_key, max_retries=1, retry_backoff=10.0, retry_backoff_max=10.0
        )
        # 1 request per second: the first is admitted, the next must wait until a second after it.
        started = time.monotonic()
        limited.chat_completions("demo", user(unique("first")))
        completion = limited.chat_completions("demo", user(unique("second")))
        elapsed = time.monotonic() - started
        self.assertIn("You said", completion.content or "")
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 5.0)
        info = limited.last_response
        assert info is not None
        self.assertEqual(info.status, 200)
        self.assertEqual(info.retries, 1)
        self.assertGreater(info.elapsed, 0.0)
        self.assertEqual(info.rate_limit.policies["requests"].quota, 1)
        self.assertEqual(info.rate_limit.policies["requests"].window, 1)

        # Without retries the 429 itself comes back, with when to try again.
        with self.assertRaises(RateLimitError) as caught:
            limited.chat_completions("demo", user(unique("third")), max_retries=0)
        error = caught.exception
        self.assertEqual(error.status, 429)
        self.assertEqual(error.code, "rate_limit_exceeded")
        self.assertEqual(error.type, "https://ai-gateway.dev/problems/rate-limit-exceeded")
        self.assertEqual(error.error_type, "rate_limit_error")
        self.assertIsNotNone(error.retry_after)
        assert error.retry_after is not None
        self.assertGreater(error.retry_after, 0.0)
        self.assertLessEqual(error.retry_after, 1.0)
        self.assertIn("retry-after", error.headers)
        self.assertIn("ratelimit", error.headers)
        refused = limited.last_response
        assert refused is not None
        self.assertEqual(refused.status, 429)
        self.assertEqual(refused.rate_limit.limits["requests"].remaining, 0)
        self.assertEqual(refused.rate_limit.remaining_requests, 0)

        # A wait longer than retry_max_elapsed is not made: the error comes back at once.
        impatient = self.new_client(api_key=self.gateway.limited_key, retry_max_elapsed=0.2)
        with self.assertRaises(RateLimitError):
            impatient.chat_completions("demo", user(unique("fourth")))
        refused = impatient.last_response
        assert refused is not None
        self.assertEqual((refused.status, refused.retries), (429, 0))

    def test_connection_failures_are_retried_then_raised(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        closed = GatewayClient(
            f"http://127.0.0.1:{port}",
            api_key="k",
            max_retries=2,
            retry_backoff=0.1,
            retry_backoff_max=0.2,
            proxies={},
        )
        started = time.monotonic()
        with self.assertRaises(APIConnectionError) as caught:
            closed.models()
        elapsed = time.monotonic() - started
        self.assertIsNone(caught.exception.status)
        # Two waits: 0.05-0.1 s, then 0.1-0.2 s.
        self.assertGreaterEqual(elapsed, 0.15)
        self.assertLess(elapsed, 3.0)

    # --- the response cache -------------------------------------------------------------------

    def test_a_repeated_request_is_a_cache_hit(self) -> None:
        messages = user(unique("Cache me"))
        first = self.client.chat_completions("demo", messages)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.cache, "MISS")
        self.assertFalse(info.cache_hit)
        self.assertFalse(first.cached)

        second = self.client.chat_completions("demo", messages)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.cache, "HIT")
        self.assertTrue(info.cache_hit)
        self.assertEqual(info.attempts, 0)
        self.assertEqual(info.backend, "demo")
        self.assertTrue(second.cached)
        self.assertEqual(second.content, first.content)
        self.assertNotEqual(second.id, first.id)

        # A streamed request is served from the same entry.
        with self.client.stream("demo", messages) as stream:
            self.assertEqual(stream.response.cache, "HIT")
            self.assertEqual(stream.text(), first.content)

        # Cache-Control: no-cache skips the read.
        self.client.chat_completions("demo", messages, extra_headers={"Cache-Control": "no-cache"})
        info = self.client.last_response
        assert info is not None
        self.assertNotEqual(info.cache, "HIT")

    # --- the admin API ------------------------------------------------------------------------

    def test_admin_keys_create_list_get_update_revoke(self) -> None:
        admin = self.client.admin
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
        created = admin.keys.create(
            "python client test",
            models=["demo"],
            rate_limit={"requests": "100/minute"},
            expires_at=expires,
            metadata={"team": "python"},
        )
        self.assertIsInstance(created, ApiKey)
        assert created.key is not None
        self.assertTrue(created.key.startswith("sk-gw-"))
        self.assertNotIn(created.key, repr(created))
        self.assertEqual(created.name, "python client test")
        self.assertEqual(created.models, ["demo"])
        self.assertEqual(created.metadata, {"team": "python"})
        self.assertEqual(created.source, "store")
        self.assertIsNotNone(created.created_at)
        self.assertIsNotNone(created.expires_at)
        self.assertFalse(created.revoked)
        self.assertIsNotNone(created.rate_limit)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.status, 201)

        # The new key works.
        user_client = self.new_client(api_key=created.key, admin_token=None)
        self.assertIn("demo", user_client.models().ids)

        listed = admin.keys.list()
        by_id = {key.id: key for key in listed}
        self.assertIn(created.id, by_id)
        self.assertIsNone(by_id[created.id].key)
        self.assertEqual(by_id[self.gateway.key_id].source, "config")
        self.assertIn(self.gateway.limited_key_id, by_id)

        fetched = admin.keys.get(created.id)
        self.assertEqual(fetched.id, created.id)
        self.assertIsNone(fetched.key)
        self.assertEqual(fetched.metadata, {"team": "python"})

        updated = admin.keys.update(created.id, name="renamed", metadata={"team": "py"})
        self.assertEqual(updated.name, "renamed")
        self.assertEqual(updated.metadata, {"team": "py"})
        self.assertEqual(updated.models, ["demo"])
        cleared = admin.keys.update(created.id, models=None, expires_at=None)
        self.assertIsNone(cleared.models)
        self.assertIsNone(cleared.expires_at)
        self.assertEqual(cleared.name, "renamed")

        with self.assertRaises(ValueError):
            admin.keys.update(created.id)
        with self.assertRaises(ConflictError) as conflict:
            admin.keys.update(self.gateway.key_id, name="nope")
        self.assertEqual(conflict.exception.status, 409)
        with self.assertRaises(NotFoundError) as missing:
            admin.keys.get("key_does_not_exist")
        self.assertEqual(missing.exception.code, "not_found")
        with self.assertRaises(BadRequestError) as bad:
            admin.keys.create("bad rate", rate_limit={"requests": "lots"})
        self.assertEqual(bad.exception.code, "invalid_request")

        revoked = admin.keys.revoke(created.id)
        self.assertTrue(revoked.revoked)
        self.assertIsNotNone(revoked.revoked_at)
        # Refused everywhere within a second.
        deadline = time.monotonic() + 5.0
        while True:
            try:
                user_client.models(max_retries=0)
            except AuthenticationError:
                break
            if time.monotonic() > deadline:
                self.fail("the revoked key was still accepted after 5 s")
            time.sleep(0.1)

    def test_admin_usage(self) -> None:
        self.client.chat_completions("demo", user(unique("Count me")))
        report = self.client.admin.usage(key=self.gateway.key_id, group_by=["key", "model"])
        self.assertIsInstance(report, UsageReport)
        self.assertIsNotNone(report.from_)
        self.assertIsNotNone(report.to)
        rows = [row for row in report.data if row.key == self.gateway.key_id and row.model == "demo"]
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertGreaterEqual(row.requests, 1)
        self.assertGreater(row.prompt_tokens, 0)
        self.assertEqual(row.total_tokens, row.prompt_tokens + row.completion_tokens)
        self.assertIsNone(row.cost)
        self.assertEqual(report.to_dict()["from"], report.from_)

        totals = self.client.admin.usage(group_by="", from_="1d")
        self.assertEqual(len(totals.data), 1)
        self.assertIsNone(totals.data[0].key)
        self.assertGreaterEqual(totals.data[0].requests, row.requests)

        today = datetime.datetime.now(datetime.timezone.utc).date()
        daily = self.client.admin.usage(
            group_by="day", from_=today, to=datetime.datetime.now() + datetime.timedelta(hours=1)
        )
        self.assertEqual([item.day for item in daily.data], [today.isoformat()])

        csv = self.client.admin.usage_csv(group_by="key,model")
        self.assertTrue(csv.startswith("key,model,requests"))
        self.assertIn(self.gateway.key_id, csv)

        with self.assertRaises(BadRequestError) as caught:
            self.client.admin.usage(group_by="planet")
        self.assertEqual(caught.exception.param, "group_by")

    def test_admin_purge_cache(self) -> None:
        messages = user(unique("Purge me"))
        self.client.chat_completions("demo", messages)
        self.client.chat_completions("demo", messages)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.cache, "HIT")

        deleted = self.client.admin.purge_cache(key=self.gateway.key_id)
        self.assertGreaterEqual(deleted, 1)
        self.client.chat_completions("demo", messages)
        info = self.client.last_response
        assert info is not None
        self.assertEqual(info.cache, "MISS")

        self.assertGreaterEqual(self.client.admin.purge_cache(), 1)
        self.assertEqual(self.client.admin.purge_cache(key="nobody"), 0)

    def test_admin_needs_the_admin_token(self) -> None:
        no_token = self.new_client(admin_token=None)
        with self.assertRaises(ValueError):
            no_token.admin.keys.list()
        wrong = self.new_client(admin_token="wrong-admin-token-0123456789")
        with self.assertRaises(AuthenticationError) as caught:
            wrong.admin.keys.list()
        self.assertEqual(caught.exception.code, "invalid_api_key")
        # The API key is not an admin token.
        as_key = self.new_client(admin_token=self.gateway.key)
        with self.assertRaises(AuthenticationError):
            as_key.admin.usage()


if __name__ == "__main__":
    unittest.main()
