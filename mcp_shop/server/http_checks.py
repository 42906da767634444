"""``CheckedMCP``: the ASGI wrapper in front of the MCP SDK's ``/mcp`` endpoint (``mcp-shop serve
--http`` and ``serve-env``'s ``/mcp``), for what the SDK answers badly or not at all:

* a client that goes away before its POST body is complete: the SDK logged a traceback for each
  (``ClientDisconnect``), and five hundred such clients kept the server busy formatting them
  for tens of seconds; now the request just ends.
* a request whose ``id`` is not a string or an integer (``1.5``, ``null``, ``true``, an object):
  the SDK took it for a notification, answered 202 and nothing else, so the client waited
  forever; now a JSON-RPC error says what an id may be.
* a batch (a JSON array), a body that is not an object, a wrong ``jsonrpc``, ``method`` or
  ``params``, a ``tools/call`` without a tool name or with ``arguments`` that are not an
  object, a wrong ``Content-Type``: the SDK's answers were a pydantic dump, an empty
  "Invalid request parameters" or "Invalid Content-Type header"; now one sentence says what is
  wrong and what would be valid.

Host and Origin are checked first, as the SDK checks them (421 / 403), so that a refused caller
learns nothing about its body. Everything else goes to the SDK unchanged (the body replayed).
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CheckedMCP", "read_body", "replaying", "rpc_problem"]

_MESSAGE = ('one JSON-RPC 2.0 message: {"jsonrpc": "2.0", "id": 1, "method": "tools/call", '
            '"params": {"name": "search_products", "arguments": {...}}}')


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def rpc_problem(data: Any) -> str | None:
    """What makes parsed JSON ``data`` an invalid MCP message (in a sentence that says what
    would be valid), or None for a message the SDK reads correctly."""
    if isinstance(data, list):
        return f"JSON-RPC batches (arrays) are not accepted; send {_MESSAGE} per POST"
    if not isinstance(data, dict):
        return f"the body is a JSON {type(data).__name__}; send {_MESSAGE}"
    if data.get("jsonrpc") != "2.0":
        return f'"jsonrpc" must be "2.0" (got {_shown(data.get("jsonrpc"))}); send {_MESSAGE}'
    if "method" not in data:
        if "result" in data or "error" in data:
            return None  # a response to a server request: the SDK's to judge
        return ('the message has no "method" (a request or notification) and no "result" or '
                f'"error" (a response); send {_MESSAGE}')
    method = data["method"]
    if not isinstance(method, str):
        return f'"method" must be a string such as "tools/call" (got {_shown(method)})'
    if "id" in data and not _valid_id(data["id"]):
        return (f'"id" must be a string or an integer (got {_shown(data["id"])}); leave "id" '
                "out for a notification, which gets no answer")
    params = data.get("params")
    if "params" in data and not isinstance(params, dict):
        return f'"params" must be an object (got {_shown(params)}) or left out'
    if method == "tools/call" and isinstance(params, dict):
        if not isinstance(params.get("name"), str):
            return ('"params.name" must be the tool\'s name, a string such as '
                    f'"search_products" (got {_shown(params.get("name"))}); tools/list lists '
                    "them")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            return ('"params.arguments" must be an object of argument names and values (got '
                    f"{_shown(arguments)})")
    return None


async def _json_error(send: Send, status: int, message: str, id_: Any = None) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": id_ if _valid_id(id_) else None,
                       "error": {"code": -32600, "message": f"Invalid Request: {message}"}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body.encode()})


class CheckedMCP:
    """Wraps the SDK's ``/mcp`` ASGI app; POSTs are checked (see the module docstring), other
    methods pass through."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings, *,
                 max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE) -> None:
        self.app = app
        self.security = TransportSecurityMiddleware(security)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused = await self.security.validate_request(request, is_post=False)
        if refused is not None:  # Host / Origin: the SDK's answer, as for every method
            await refused(scope, receive, send)
            return
        if await self.security.validate_request(request, is_post=True) is not None:
            await _json_error(send, 415, "Content-Type must be application/json (got "
                              f"{_shown(request.headers.get('content-type'))})")
            return
        raw = await read_body(receive, self.max_body)
        if raw is None:
            return  # the client went away before its body was complete: nobody to answer
        if len(raw) > self.max_body:
            await _json_error(send, 413, f"the body is over {self.max_body:,} bytes, the most "
                              "accepted")
            return
        try:
            data = pydantic_core.from_json(raw)
        except ValueError:
            data = None  # not JSON: the SDK's parse error says where
        else:
            problem = rpc_problem(data)
            if problem is not None:
                await _json_error(send, 400, problem,
                                  data.get("id") if isinstance(data, dict) else None)
                return
        await self.app(scope, replaying(raw, receive), send)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """A request's whole body, cut off as soon as it is over ``limit`` bytes (so longer than
    ``limit`` means too long), or None if the client left first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > limit or not message.get("more_body", False):
            return b"".join(chunks)


def replaying(raw: bytes, receive: Receive) -> Receive:
    """``receive`` for the app behind: the body already read, then whatever comes next."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
