"""A bare JSON-RPC client for ``/mcp`` that writes the request body itself, so it can send what
the SDK's client refuses or cannot encode: integers past Python's 4,300-digit string limit,
``NaN`` and ``Infinity`` literals, lone surrogates (as JSON escapes), nesting thousands of levels
deep. Each call is one stateless POST (protocol 2025-06-18, no initialize), as a legacy client
without a session makes it. Answers come back shaped like the SDK's ``CallToolResult``
(``is_error``, ``content[0].text``, ``structured_content``); a JSON-RPC error answer comes back
as an error result whose text is ``jsonrpc error <code>: <message>``."""

from __future__ import annotations

import itertools
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx

DEEP = 10_000  # nesting of the raw deep-nesting value (far past any recursion limit)


@dataclass
class Text:
    text: str


@dataclass
class RawResult:
    is_error: bool
    content: list[Text]
    structured_content: dict[str, Any] | None = None
    status: int = 200


def encode(value: Any) -> str:
    """JSON text of ``value``, allowing integers of any length, NaN/Infinity and lone
    surrogates (escaped), and the marker ``RawDeep`` (an array nested ``DEEP`` levels)."""
    if isinstance(value, RawDeep):
        return "[" * value.depth + "1" + "]" * value.depth
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # lone surrogates become \\udXXX escapes
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(str(value))


@dataclass(frozen=True)
class RawDeep:
    """An array nested ``depth`` levels deep, written straight into the request body."""

    depth: int = DEEP


@dataclass
class RawClient:
    """``call_tool(name, arguments)`` over raw HTTP POSTs to ``url`` (an ``.../mcp`` URL)."""

    url: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=60))
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def __aenter__(self) -> RawClient:
        sys.set_int_max_str_digits(0)  # write integers of any length
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def post(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = (f'{{"jsonrpc":"2.0","id":{next(self.ids)},"method":{json.dumps(method)},'
                f'"params":{encode(params)}}}')
        response = await self.http.post(self.url, content=body.encode("utf-8", "surrogatepass"),
                                        headers={"content-type": "application/json",
                                                 "mcp-protocol-version": "2025-06-18",
                                                 "accept": "application/json, text/event-stream"})
        text = response.text
        if "data: " in text:
            text = text.split("data: ", 1)[1].split("\n", 1)[0]
        try:
            return response.status_code, json.loads(text)
        except ValueError:
            return response.status_code, {"error": {"code": "not-json", "message": text[:300]}}

    async def list_tools(self) -> Any:
        _, answer = await self.post("tools/list", {})

        @dataclass
        class Tool:
            name: str
            input_schema: dict[str, Any]

        @dataclass
        class Listed:
            tools: list[Tool]

        return Listed([Tool(t["name"], t["inputSchema"]) for t in answer["result"]["tools"]])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> RawResult:
        status, answer = await self.post("tools/call", {"name": name, "arguments": arguments})
        if "result" in answer:
            result = answer["result"]
            content = [Text(c.get("text", "")) for c in result.get("content", [])]
            return RawResult(bool(result.get("isError")), content,
                             result.get("structuredContent"), status)
        error = answer.get("error", {})
        return RawResult(True, [Text(f"jsonrpc error {error.get('code')}: "
                                     f"{error.get('message')}")], None, status)
