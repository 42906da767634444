"""A scriptable stub of an OpenAI-compatible Chat Completions endpoint, on 127.0.0.1, for tests
of anything that talks to a model (the LLM agent, the shopper's rephrasing).

    with ChatStub() as stub:                           # serves {stub.url}/chat/completions
        stub.push(tool_reply("search_products", {"query": "socks"}), text_reply("Found some."))
        stub.push(Status(429), raw_reply(b"not json"))
        stub.policy = gold_policy({opening: gold_actions(task.gold)})   # when the queue is empty
        ... stub.requests[0]["body"]["tools"] ...

Replies are taken from the queue first (shared by every client, in arrival order), then from
``policy(body)``; with neither the stub answers HTTP 500. A request with ``"stream": true`` gets
the reply as server-sent events. Every request is recorded (path, headers, JSON body) before
it is answered.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from episodes.controller import Action

__all__ = ["ChatStub", "Raw", "Reply", "Status", "gold_policy", "raw_reply", "reply_for",
           "text_reply", "tool_reply"]


@dataclass
class Status:
    """Answer with an HTTP status (and an optional body and headers) instead of a reply."""

    code: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Raw:
    """Answer 200 with these exact bytes (for malformed replies)."""

    data: bytes


Reply = dict[str, Any] | Status | Raw
"""A Chat Completions response body, an HTTP status, or raw bytes."""


def raw_reply(data: bytes | str | Any) -> Raw:
    """A 200 whose body is ``data`` as is (bytes or text) or as JSON (anything else)."""
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = json.dumps(data).encode()
    return Raw(data)


def _response(message: dict[str, Any], usage: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub",
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}]}
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage - 1, "completion_tokens": 1,
                         "total_tokens": usage}
    return body


def text_reply(text: str | None, *, usage: int | None = 100) -> dict[str, Any]:
    """An assistant reply with text only."""
    return _response({"content": text}, usage)


def tool_reply(*calls: tuple[str, Any] | str, args: Any = None, text: str | None = None,
               usage: int | None = 100) -> dict[str, Any]:
    """An assistant reply with tool calls, in the wire format: ``tool_reply("view_cart")``,
    ``tool_reply("get_product", args={"product_id": "P-1"})`` or several as ``(name, args)``
    pairs. Arguments that are not ``str`` are sent as JSON text; a ``str`` is sent as is (so
    malformed arguments can be scripted)."""
    pairs = [(c, args) if isinstance(c, str) else c for c in calls]
    wire = [{"id": f"call_stub_{k}", "type": "function",
             "function": {"name": name,
                          "arguments": a if isinstance(a, str) else json.dumps(a or {})}}
            for k, (name, a) in enumerate(pairs)]
    return _response({"content": text, "tool_calls": wire}, usage)


def reply_for(action: Action) -> dict[str, Any]:
    """The reply with which a model would make ``action`` (an empty reply for ``done``)."""
    if action.tool_calls:
        return tool_reply(*[(r.name, r.arguments) for r in action.tool_calls])
    return text_reply(action.message or "")


def gold_policy(scripts: Mapping[str, Sequence[Action]]) -> Callable[[dict[str, Any]],
                                                                     Reply]:
    """A stateless policy replaying scripted actions: the conversation is recognised by its
    first user message (a key of ``scripts``), and the k-th assistant reply of the conversation
    is the k-th action (an empty reply past the end). Safe with concurrent conversations."""

    def policy(body: dict[str, Any]) -> Reply:
        messages = body["messages"]
        opening = next(m["content"] for m in messages if m["role"] == "user")
        actions = scripts[opening]
        k = sum(1 for m in messages if m["role"] == "assistant")
        return reply_for(actions[k]) if k < len(actions) else text_reply("")

    return policy


def _events(reply: dict[str, Any]) -> bytes:
    """A reply as the server-sent events of a streamed completion (``"stream": true``): one
    chunk with the whole message, one with the finish reason, the usage, then ``[DONE]``."""
    choice = reply["choices"][0]
    message = dict(choice["message"])
    if "tool_calls" in message:
        message["tool_calls"] = [{"index": k, **c} for k, c in enumerate(message["tool_calls"])]
    head = {k: reply[k] for k in ("id", "created", "model")}
    chunks = [{**head, "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": message, "finish_reason": None}]},
              {**head, "object": "chat.completion.chunk",
               "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}]
    if "usage" in reply:
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [],
                       "usage": reply["usage"]})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + \
        b"data: [DONE]\n\n"


class ChatStub:
    """The stub server (a thread); a context manager that shuts it down."""

    def __init__(self) -> None:
        self.queue: deque[Reply] = deque()
        self.policy: Callable[[dict[str, Any]], Reply] | None = None
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_unparsed": raw.decode(errors="replace")}
                reply = stub._next(self.path, dict(self.headers), body)
                if isinstance(reply, Status):
                    self._send(reply.code, reply.body.encode(), reply.headers)
                elif isinstance(reply, Raw):
                    self._send(200, reply.data, {})
                elif body.get("stream"):
                    self._send(200, _events(reply), {}, "text/event-stream")
                else:
                    self._send(200, json.dumps(reply).encode(), {})

            def _send(self, code: int, data: bytes, headers: dict[str, str],
                      content_type: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _next(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append({"path": path, "headers": headers, "body": body})
            if self.queue:
                return self.queue.popleft()
            policy = self.policy
        if policy is None:
            return Status(500, '{"error": "the stub has no reply scripted"}')
        return policy(body)

    def push(self, *replies: Reply) -> ChatStub:
        """Queue replies, answered in order before the policy is asked."""
        with self.lock:
            self.queue.extend(replies)
        return self

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of the requests so far."""
        with self.lock:
            return [r["body"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ChatStub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
