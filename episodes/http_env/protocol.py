"""The env's HTTP protocol: its endpoints, the error a refused request raises, request bodies
read (size, JSON, depth) and validated into models, with what would be valid, and answers
written as strict JSON (``dumps``, ``finite``)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from starlette.requests import Request

from episodes.difficulty import MAX_DIFFICULTY

__all__ = [
    "ENDPOINTS",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "CloseBody",
    "EnvError",
    "ResetBody",
    "StepBody",
    "dumps",
    "finite",
    "id_problem",
    "json_problem",
    "load_json",
]

MAX_BODY_BYTES = 4 * 1024 * 1024
# Deeper bodies are refused: they cannot be echoed back (pydantic serialises a bounded depth)
# and no task or tool call needs them.
MAX_JSON_DEPTH = 64
ENDPOINTS = {
    "POST /reset": '{"family", "difficulty", "seed"} | {"task": {...}} | {"task_id"}, '
                   'optional "policy", "trial", "episode_id"',
    "POST /step": '{"episode_id", "action": {"tool_calls": [{"name", "arguments"}], '
                  '"message", "done"}}',
    "GET /state": "?episode_id=...",
    "GET /record": "?episode_id=... (a finished episode)",
    "POST /close": '{"episode_id"}',
    "GET /health": "",
    "GET /schema": "the action, observation and state JSON schemas (OpenEnv)",
    "GET /metadata": "the environment's name and description (OpenEnv)",
    "WS /ws": "OpenEnv's WebSocket session (EnvClient)",
    "POST /mcp": "the shop's MCP endpoint (Streamable HTTP)",
}


class EnvError(Exception):
    """A request the env refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- answers ----------------------------------------------------------------------------------


def finite(data: Any) -> Any:
    """``data`` with every float JSON cannot hold written as the trace writes it (``'NaN'``,
    ``'Infinity'``, ``'-Infinity'``): a body may carry ``1e999``, which Python reads as inf,
    and the answers echo the tool arguments. The same ``data`` when it has none."""
    if isinstance(data, float):
        if math.isfinite(data):
            return data
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def dumps(data: Any) -> str:
    """``data`` as strict JSON (RFC 8259: no ``NaN`` or ``Infinity``; see ``finite``)."""
    try:
        return json.dumps(data, default=str, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a float JSON cannot hold, somewhere
        return json.dumps(finite(data), default=str, separators=(",", ":"), allow_nan=False)


# -- request bodies ---------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def id_problem(episode_id: str) -> str | None:
    """Why ``episode_id`` can name no episode, or None: it holds a control character (NUL,
    which PostgreSQL cannot store, a newline, ...)."""
    found = _CONTROL.search(episode_id)
    if found is None:
        return None
    return (f"episode_id holds the control character {found.group()!r}; an episode id is "
            "printable text, e.g. 'run-7-episode-3'")


class ResetBody(_Strict):
    """``POST /reset`` (and the WebSocket reset): one of the three ways to name a task."""

    family: str | None = None
    # integers as JSON integers only: true, 2.0 or "3" are refused, not read as 1, 2 and 3
    difficulty: StrictInt | None = Field(default=None, ge=0, le=MAX_DIFFICULTY)
    seed: StrictInt | None = Field(default=None, ge=0)
    task: dict[str, Any] | None = None
    task_id: str | None = None
    policy: str = Field(default="remote", max_length=200)
    trial: StrictInt = Field(default=0, ge=0)
    episode_id: str | None = Field(default=None, min_length=1, max_length=255,
                                   description="an id of the client's choosing (default: a "
                                   "fresh random one), printable text")

    @field_validator("episode_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        problem = None if value is None else id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class StepBody(_Strict):
    """``POST /step``: the episode and the action (a ``ShopAction``); ``timeout_s`` and
    ``request_id`` are OpenEnv's optional step fields, accepted and not used."""

    episode_id: str = Field(min_length=1)
    action: dict[str, Any]
    timeout_s: float | None = None
    request_id: str | None = Field(default=None, max_length=255)


class CloseBody(_Strict):
    """``POST /close``."""

    episode_id: str = Field(min_length=1)


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: object, what: str, *, where: str = "",
           endpoint: str | None = None) -> M:
    """``body`` as ``model``, or a 422 naming every problem (at most five) after ``what``, and
    what ``endpoint`` (default ``what``) expects; ``where`` prefixes the field paths
    (``action.`` for the action inside a step body)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:5]:
            where_ = where + ".".join(str(x) for x in e["loc"]) or "body"
            msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
            got = json.dumps(e.get("input"), default=str)
            got = got if len(got) <= 120 else got[:117] + "..."
            problems.append(f"{where_}: {msg} (got {got})")
        raise EnvError(422, f"{what}: {'; '.join(problems)}. Expected "
                       f"{ENDPOINTS[endpoint or what]}") from None


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
    expected = ENDPOINTS.get(what, "")
    if not raw.strip():
        raise EnvError(400, f"{what}: the body is empty; expected a JSON object {expected}")
    data, problem = load_json(raw)
    if problem:
        raise EnvError(400, f"{what}: {problem}; expected a JSON object {expected}")
    if not isinstance(data, dict):
        raise EnvError(400, f"{what}: the body must be a JSON object, got "
                       f"{type(data).__name__}; expected {expected}")
    return data


def json_problem(raw: bytes | str) -> str | None:
    """What makes ``raw`` unacceptable JSON (not JSON, too deep, an integer too long to
    convert), or None."""
    return load_json(raw)[1]


# A JSON escape of a UTF-16 surrogate: a lone one reads as a Python string that cannot be
# encoded, so an episode holding it could never be stored (the step failed and the episode was
# lost). Only bodies with such an escape are searched for lone ones.
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_SURROGATE_IN_TEXT = re.compile(_SURROGATE_ESCAPE)
_SURROGATE_IN_BYTES = re.compile(_SURROGATE_ESCAPE.encode())


def load_json(raw: bytes | str) -> tuple[Any, str | None]:
    """``raw`` read as JSON and None, or None and what makes it unacceptable (as
    ``json_problem`` says)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"the body is not valid JSON ({exc})"
    except RecursionError:  # deeper than the parser goes
        return None, f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
    except ValueError as exc:  # an integer past Python's int/str conversion limit
        return None, f"the JSON holds a number that cannot be read ({exc})"
    if _depth(data) > MAX_JSON_DEPTH:
        return None, f"the JSON is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
    escaped = (_SURROGATE_IN_TEXT.search(raw) if isinstance(raw, str)
               else _SURROGATE_IN_BYTES.search(raw))
    if escaped:
        lone = _lone_surrogate(data)
        if lone is not None:
            return None, (f"the JSON holds a lone surrogate (\\u{ord(lone):04x}) in a string, "
                          "which is not Unicode text; write a character past U+FFFF as a "
                          "surrogate pair (\\ud83d\\ude00) or as UTF-8")
    return data, None


def _lone_surrogate(data: Any) -> str | None:
    """The first lone surrogate in a string (a key or a value) of ``data``, or None."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return item[exc.start]
    return None


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
