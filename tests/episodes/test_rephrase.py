"""The optional shopper rephrasing through an OpenAI-compatible endpoint, against a stub
Chat Completions server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from episodes.rephrase import ChatRephraser, facts_kept


class Stub:
    """A Chat Completions stub whose behaviour the test sets: 'ok', 'drop_facts', 'malformed',
    'fail_once' (429 then ok), 'fail' (always 500), 'bad_status' (not HTTP at all),
    'truncated' (a body shorter than its Content-Length), 'null_text' (content: null)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                stub.calls += 1
                text = body["messages"][-1]["content"]
                if stub.mode == "fail" or (stub.mode == "fail_once" and stub.calls == 1):
                    self.send_response(429 if stub.mode == "fail_once" else 500)
                    self.end_headers()
                    return
                if stub.mode == "bad_status":
                    self.wfile.write(b"garbage, not HTTP\r\n\r\n")
                    self.close_connection = True
                    return
                if stub.mode == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "500")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [{"message": {"content": "Size 10')
                    self.close_connection = True
                    return
                if stub.mode == "malformed":
                    payload: Any = {"choices": []}
                elif stub.mode == "null_text":
                    payload = {"choices": [{"message": {"content": None}}]}
                elif stub.mode == "drop_facts":
                    payload = {"choices": [{"message": {"content": "Something, whatever."}}]}
                else:
                    payload = {"choices": [{"message": {"role": "assistant",
                                                        "content": "So, basically: " + text}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.server.shutdown()


def test_facts_kept() -> None:
    assert facts_kept("Size 10 in blue, under $99.50, code SAVE20, order O-1004",
                      "blue, size 10, $99.50 max, SAVE20, for O-1004")
    assert not facts_kept("Size 10 in blue", "blue please")
    assert not facts_kept("order O-1004", "order O-1005")


def test_rephrases_and_caches(stub: Stub) -> None:
    r = ChatRephraser(stub.url, model="m", api_key="k")
    assert r("I need size 10.", "a runner") == "So, basically: I need size 10."
    assert r("I need size 10.", "a runner") == "So, basically: I need size 10."
    assert stub.calls == 1  # cached
    req = stub.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    assert req["body"]["model"] == "m" and req["body"]["temperature"] == 0
    assert "a runner" in req["body"]["messages"][0]["content"]


@pytest.mark.parametrize("mode", ["drop_facts", "malformed", "fail", "bad_status", "truncated",
                                  "null_text"])
def test_falls_back_to_the_original(stub: Stub, mode: str) -> None:
    stub.mode = mode
    r = ChatRephraser(stub.url, model="m", retries=1, backoff=0)
    assert r("Size 10 in blue, under $50.", "") == "Size 10 in blue, under $50."
    assert r.failures == (0 if mode == "drop_facts" else 1)
    if mode in ("bad_status", "truncated"):  # broken replies are retried, like lost ones
        assert stub.calls == 2


def test_retries_a_rate_limit(stub: Stub) -> None:
    stub.mode = "fail_once"
    r = ChatRephraser(stub.url, model="m", retries=2, backoff=0)
    assert r("Hello there.", "") == "So, basically: Hello there."
    assert stub.calls == 2 and r.failures == 0


def test_unreachable_endpoint_falls_back() -> None:
    r = ChatRephraser("http://127.0.0.1:9/v1", model="m", retries=0, timeout=2)
    assert r("Hi, size 9.", "") == "Hi, size 9."
    assert r.failures == 1
    with pytest.raises(ValueError, match="http"):
        ChatRephraser("ftp://x", model="m")


async def test_rephrased_shopper_keeps_the_rules(ep_shop: Any, stub: Stub) -> None:
    """With rephrasing on, the shopper's messages are the model's wording, the decisions stay
    the rules' (the oracle still succeeds), and the rule-based facts survive."""
    from episodes.agents import OracleAgent
    from episodes.controller import EpisodeController
    from episodes.generate import generate_task

    tasks = [generate_task(ep_shop, f, 2, 7) for f in ("purchase", "return", "discovery")]
    rephraser = ChatRephraser(stub.url, model="m", backoff=0)
    async with EpisodeController(ep_shop, rephraser=rephraser) as controller:
        records = await controller.run(OracleAgent(), tasks, concurrency=3)
    assert all(r["success"] for r in records)
    shopper = [m["content"] for r in records for m in r["messages"] if m["role"] == "user"]
    assert shopper and all(text.startswith("So, basically: ") for text in shopper)
    assert stub.calls >= len(shopper) - len(set(shopper)) and stub.calls > 0
