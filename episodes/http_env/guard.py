"""``Guard``: the ASGI middleware in front of the whole env server. It checks Host and Origin
on every request and WebSocket (DNS-rebinding protection: 421 / 403, a WebSocket is refused
with close code 1008), and keeps unreadable JSON away from code that would fail on it: WebSocket
messages that are not JSON, too deep, or hold an integer past Python's 4,300-digit limit get an
OpenEnv error message (the session goes on), and so do such bodies on ``POST /mcp`` (a JSON-RPC
error). A ``POST /mcp`` body that is a JSON object but not JSON-RPC gets a JSON-RPC error too,
as OpenEnv's own ``/mcp`` answers."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, cast

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from episodes.http_env.protocol import MAX_BODY_BYTES, dumps, json_problem, load_json
from mcp_shop.server.http_checks import read_body, replaying

__all__ = ["Guard"]


async def _send_json(send: Send, status: int, data: Any) -> None:
    body = dumps(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _rpc_error(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}


class Guard:
    """Host/Origin checks for HTTP and WebSocket, JSON checks for WebSocket messages and
    ``POST /mcp`` bodies (the env's own routes check their bodies themselves)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str] = (),
                 allowed_origins: Sequence[str] = ()) -> None:
        from mcp.server.transport_security import TransportSecurityMiddleware

        from mcp_shop.server.http_app import transport_security

        self.app = app
        self.security = TransportSecurityMiddleware(transport_security(allowed_hosts,
                                                                       allowed_origins))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # validate_request reads only the headers, which a WebSocket scope has as well
        headers_only = cast(Request, HTTPConnection(scope))
        refused = await self.security.validate_request(headers_only, is_post=False)
        if refused is not None:
            text = bytes(refused.body).decode(errors="replace")
            if kind == "websocket":
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008, "reason": text})
                return
            await _send_json(send, refused.status_code, {
                "error": f"{text}; allowed are localhost and the server's --allowed-host / "
                         "--allowed-origin values"})
            return
        if kind == "websocket":
            # openenv-core's /ws closes, at its end, a socket the client may have closed
            with contextlib.suppress(WebSocketDisconnect):
                await self.app(scope, self._checked_messages(receive, send), send)
        elif scope["method"] == "POST" and scope["path"].rstrip("/") == "/mcp":
            await self._mcp(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _checked_messages(receive: Receive, send: Send) -> Receive:
        """``receive`` that answers unreadable messages itself and hands on only readable
        ones (as text)."""

        async def checked() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                raw = message.get("text")
                if raw is None:
                    raw = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                problem = json_problem(raw) if len(raw) <= MAX_BODY_BYTES else (
                    f"the message is over {MAX_BODY_BYTES:,} bytes, the most accepted")
                if problem is None and not raw.lstrip().startswith("{"):
                    # valid JSON but not an object: openenv-core fails on it (an array with
                    # an AttributeError, a number by ending the session)
                    problem = "the message is JSON but not an object"
                if problem is None:
                    return {"type": "websocket.receive", "text": raw}
                await send({"type": "websocket.send", "text": dumps({
                    "type": "error", "data": {
                        "message": f"{problem.replace('the body', 'the message')}; send a "
                                   'JSON object {"type": "reset" | "step" | "state" | "close", '
                                   '"data": {...}}', "code": "INVALID_JSON"}})})

        return checked

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await read_body(receive, MAX_BODY_BYTES)
        if raw is None:
            return  # the client went away
        if len(raw) > MAX_BODY_BYTES:
            await _send_json(send, 413, _rpc_error(
                -32600, f"the body is over {MAX_BODY_BYTES:,} bytes, the most accepted"))
            return
        data, problem = load_json(raw) if raw.strip() else (None, None)
        if problem is not None:
            await _send_json(send, 400, _rpc_error(-32700, f"Parse error: {problem}"))
            return
        if isinstance(data, dict) and "jsonrpc" not in data:
            await _send_json(send, 200, _rpc_error(
                -32600, "Invalid Request: this is the shop's MCP endpoint (Streamable HTTP): "
                "send JSON-RPC 2.0 messages, starting with initialize"))
            return
        await self.app(scope, replaying(raw, receive), send)
