"""The env's HTTP protocol: its endpoints, the error a refused request raises, and request
bodies read (size, JSON, depth) and validated into models, with what would be valid."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from episodes.difficulty import MAX_DIFFICULTY

__all__ = [
    "ENDPOINTS",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "ActionBody",
    "CloseBody",
    "EnvError",
    "ResetBody",
    "StepBody",
    "ToolCallBody",
]

MAX_BODY_BYTES = 4 * 1024 * 1024
# Deeper bodies are refused: they cannot be echoed back (pydantic serialises a bounded depth)
# and no task or tool call needs them.
MAX_JSON_DEPTH = 64
ENDPOINTS = {
    "POST /reset": '{"family", "difficulty", "seed"} | {"task": {...}} | {"task_id"}',
    "POST /step": '{"episode_id", "action": {"tool_calls": [{"name", "arguments"}], '
                  '"message", "done"}}',
    "GET /state": "?episode_id=...",
    "GET /record": "?episode_id=... (a finished episode)",
    "POST /close": '{"episode_id"}',
    "GET /health": "",
    "POST /mcp": "the shop's MCP endpoint (Streamable HTTP)",
}


class EnvError(Exception):
    """A request the env refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- request bodies ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResetBody(_Strict):
    """``POST /reset``: one of the three ways to name a task."""

    family: str | None = None
    difficulty: int | None = Field(default=None, ge=0, le=MAX_DIFFICULTY)
    seed: int | None = Field(default=None, ge=0)
    task: dict[str, Any] | None = None
    task_id: str | None = None
    policy: str = Field(default="remote", max_length=200)
    trial: int = Field(default=0, ge=0)


class ToolCallBody(_Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ActionBody(_Strict):
    tool_calls: list[ToolCallBody] = Field(default_factory=list)
    message: str | None = None
    done: bool = False


class StepBody(_Strict):
    """``POST /step``."""

    episode_id: str
    action: ActionBody


class CloseBody(_Strict):
    """``POST /close``."""

    episode_id: str


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: object, what: str) -> M:
    """``body`` as ``model``, or a 422 naming every problem (at most five)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e["loc"]) or "body"
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            got = json.dumps(e.get("input"), default=str)
            got = got if len(got) <= 120 else got[:117] + "..."
            problems.append(f"{where}: {msg} (got {got})")
        raise EnvError(422, f"{what}: {'; '.join(problems)}. Expected {ENDPOINTS[what]}"
                       ) from None


async def _read_body(request: Request) -> bytes:
    """The request's body, read no further than ``MAX_BODY_BYTES`` (a declared length is
    checked first; a chunked body is cut off as soon as it grows past the limit): 413."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY_BYTES:
        raise EnvError(413, f"the body is {int(size):,} bytes; at most {MAX_BODY_BYTES:,}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise EnvError(413, f"the body is over {MAX_BODY_BYTES:,} bytes, the most "
                           "accepted")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_json(request: Request) -> Any:
    """The request's JSON body (an object), or a 400 / 413 saying what is wrong with it."""
    raw = await _read_body(request)
    what = f"{request.method} {request.url.path}"
    if not raw.strip():
        raise EnvError(400, f"{what}: the body is empty; expected a JSON object "
                       f"{ENDPOINTS.get(what, '')}")
    too_deep = False
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EnvError(400, f"{what}: the body is not valid JSON ({exc}); expected a JSON "
                       f"object {ENDPOINTS.get(what, '')}") from None
    except RecursionError:  # deeper than the parser goes
        too_deep = True
    if too_deep or _depth(data) > MAX_JSON_DEPTH:
        raise EnvError(400, f"{what}: the body's JSON is nested too deeply (at most "
                       f"{MAX_JSON_DEPTH} levels); expected a JSON object "
                       f"{ENDPOINTS.get(what, '')}")
    if not isinstance(data, dict):
        raise EnvError(400, f"{what}: the body must be a JSON object, got "
                       f"{type(data).__name__}; expected {ENDPOINTS.get(what, '')}")
    return data


def _depth(data: Any) -> int:
    """How deeply ``data`` (parsed JSON) nests lists and objects (without recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest
