"""The gateway under concurrent traffic, as the seed asks: a locust scenario.

`npm run loadtest` starts a gateway (demo backend, static keys, cache on) and runs this file headless
against it, passing the keys in the environment:

  GATEWAY_LOADTEST_KEYS          comma-separated keys with limits the scenario never reaches
  GATEWAY_LOADTEST_LIMITED_KEYS  comma-separated keys with a small request limit (5/minute)
  GATEWAY_LOADTEST_MODEL         the model to ask for (default: demo)

Users:
  ChatUser     authenticated chat completions: repeated prompts (X-Cache: HIT once a key has asked
               them), unique prompts (always a MISS), and GET /v1/models
  StreamUser   stream: true; reads the whole event stream and checks that it ends with data: [DONE];
               a share of repeated prompts, which are replayed from the cache
  LimitedUser  a limited key: admitted until its limit, then 429 rate_limit_exceeded with Retry-After.
               That 429 is what the scenario expects, so it counts as a success, under its own name.

Request names carry the outcome, so the summary shows it: "chat, repeated [HIT]" / "[MISS]",
"limited key [200]" / "[429 expected]". Anything else unexpected is a failure (locust then exits 1).
"""

import json
import os
import random
import time
import uuid

from locust import HttpUser, between, events, task

CHAT = "/v1/chat/completions"


def _keys(variable):
    keys = [key for key in os.environ.get(variable, "").split(",") if key]
    if not keys:
        raise SystemExit(f"{variable} is not set: run this scenario with `npm run loadtest`")
    return keys


KEYS = _keys("GATEWAY_LOADTEST_KEYS")
LIMITED_KEYS = _keys("GATEWAY_LOADTEST_LIMITED_KEYS")
MODEL = os.environ.get("GATEWAY_LOADTEST_MODEL", "demo")

# A small set of prompts that every user repeats: with the cache scoped per key, each key's first ask
# of each prompt is a miss, and every later one a hit.
REPEATED_PROMPTS = [
    "What does an API gateway do?",
    "Explain rate limiting in one sentence.",
    "Why cache exact answers?",
    "Name three HTTP status codes.",
    "What is server-sent events?",
]

# Outcomes worth a line at the end, beyond locust's own table.
tally = {"cache_hits": 0, "cache_misses": 0, "limited_admitted": 0, "limited_refused": 0, "streams": 0}


def chat_body(prompt, stream=False):
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": 64}
    if stream:
        body["stream"] = True
    return body


def unique_prompt():
    return f"Tell me something new ({uuid.uuid4()})"


class GatewayUser(HttpUser):
    abstract = True
    wait_time = between(0.1, 0.5)
    keys = KEYS

    def on_start(self):
        self.key = random.choice(self.keys)
        self.client.headers["Authorization"] = f"Bearer {self.key}"

    def check_common(self, response):
        """What every answer of the gateway carries; returns a failure message or None."""
        if not response.headers.get("X-Request-ID"):
            return "no X-Request-ID header"
        return None

    def chat(self, prompt, label, expect_cache=None):
        """A non-streaming completion; `label` names it in the stats, with [HIT] or [MISS] appended."""
        with self.client.post(CHAT, json=chat_body(prompt), catch_response=True, name=label) as response:
            cache = response.headers.get("X-Cache", "none")
            response.request_meta["name"] = f"{label} [{cache}]"
            problem = self.check_common(response)
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            if problem:
                response.failure(problem)
                return
            try:
                answer = response.json()
                content = answer["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                response.failure("not a chat completion")
                return
            if not content:
                response.failure("empty answer")
            elif cache not in ("HIT", "MISS"):
                response.failure(f"X-Cache is {cache}, expected HIT or MISS")
            elif expect_cache is not None and cache != expect_cache:
                response.failure(f"X-Cache is {cache}, expected {expect_cache}")
            elif cache == "HIT" and answer.get("cached") is not True:
                response.failure('a cache hit without "cached": true')
            else:
                tally["cache_hits" if cache == "HIT" else "cache_misses"] += 1
                response.success()


class ChatUser(GatewayUser):
    weight = 5

    @task(3)
    def chat_repeated(self):
        self.chat(random.choice(REPEATED_PROMPTS), "chat, repeated")

    @task(2)
    def chat_unique(self):
        self.chat(unique_prompt(), "chat, unique", expect_cache="MISS")

    @task(1)
    def list_models(self):
        with self.client.get("/v1/models", catch_response=True, name="models") as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            try:
                names = [model["id"] for model in response.json()["data"]]
            except (ValueError, KeyError, TypeError):
                response.failure("not a model list")
                return
            if MODEL not in names:
                response.failure(f"{MODEL} is not listed: {names}")
            else:
                response.success()


class StreamUser(GatewayUser):
    weight = 2

    def stream(self, prompt, label):
        """A streaming completion read to its end; its time in the stats is to the last byte."""
        started = time.perf_counter()
        with self.client.post(
            CHAT, json=chat_body(prompt, stream=True), stream=True, catch_response=True, name=label
        ) as response:
            cache = response.headers.get("X-Cache", "none")
            response.request_meta["name"] = f"{label} [{cache}]"
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return
            problem = self.check_common(response)
            if problem:
                response.failure(problem)
                return
            if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
                response.failure(f"Content-Type {response.headers.get('Content-Type')}")
                return
            text = response.content.decode("utf-8")  # the whole stream, to its end
            response.request_meta["response_time"] = (time.perf_counter() - started) * 1000
            response.request_meta["response_length"] = len(text)
            data_lines = [line[6:] for line in text.split("\n") if line.startswith("data: ")]
            if not text.endswith("data: [DONE]\n\n"):
                response.failure(f"the stream does not end with data: [DONE]: {text[-200:]!r}")
                return
            chunks = [json.loads(data) for data in data_lines[:-1]]
            content = "".join(
                choice.get("delta", {}).get("content") or "" for chunk in chunks for choice in chunk["choices"]
            )
            if any("error" in chunk for chunk in chunks):
                response.failure("an error event in the stream")
            elif not content:
                response.failure("a stream without content")
            else:
                tally["streams"] += 1
                response.success()

    @task(3)
    def stream_unique(self):
        self.stream(unique_prompt(), "stream, unique")

    @task(1)
    def stream_repeated(self):
        self.stream(random.choice(REPEATED_PROMPTS), "stream, repeated")


class LimitedUser(GatewayUser):
    """On a key limited to 5 requests a minute: a few 200s, then 429s, both expected."""

    weight = 1
    keys = LIMITED_KEYS

    @task
    def chat_until_limited(self):
        prompt = random.choice(REPEATED_PROMPTS + [unique_prompt()])
        with self.client.post(CHAT, json=chat_body(prompt), catch_response=True, name="limited key") as response:
            if response.status_code == 200:
                response.request_meta["name"] = "limited key [200]"
                tally["limited_admitted"] += 1
                response.success()
            elif response.status_code == 429:
                response.request_meta["name"] = "limited key [429 expected]"
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = None
                if code != "rate_limit_exceeded":
                    response.failure(f"429 with error code {code}, expected rate_limit_exceeded")
                elif not response.headers.get("Retry-After"):
                    response.failure("429 without Retry-After")
                else:
                    tally["limited_refused"] += 1
                    response.success()
            else:
                response.failure(f"status {response.status_code}: {response.text[:200]}")


@events.quitting.add_listener
def report_scenario(environment, **_kwargs):
    print(
        "scenario: cache {cache_hits} hits / {cache_misses} misses (non-streaming); "
        "{streams} complete streams; limited keys {limited_admitted} admitted, "
        "{limited_refused} refused with 429 (expected)".format(**tally)
    )
