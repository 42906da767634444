"""``shop-episodes serve-env``: the episode environment over HTTP, OpenEnv style, for remote
trainers (TRL, SkyRL, verifiers, ...).

    shop-episodes serve-env --port 8100 --db sqlite:///shop.db --tasks tasks.jsonl

One process holds one shop and one ``EpisodeController`` (an in-memory MCP connection) and a
table of live episodes, each addressed by an unguessable ``episode_id``:

=========================  ==================================================================
``POST /reset``            start an episode: ``{"family", "difficulty", "seed"}`` (generated),
                           ``{"task": {...TaskSpec...}}`` or ``{"task_id"}`` (from ``--tasks``);
                           optional ``policy`` and ``trial`` (they name the rollout record)
``POST /step``             ``{"episode_id", "action": {"tool_calls": [{"name", "arguments"}],
                           "message", "done"}}`` -> observation, reward, terminated, truncated,
                           done, info (``info.breakdown`` once done)
``GET /state``             ``?episode_id=``: turn, tool calls, messages so far, done, and the
                           reward and success once done
``GET /record``            ``?episode_id=``: the rollout record of a finished episode (the JSONL
                           line ``shop-episodes run`` writes)
``POST /close``            ``{"episode_id"}``: forget an episode now
``GET /health``            ``{"status": "ok", "episodes": n, ...}``
``/mcp``                   the shop's MCP endpoint (Streamable HTTP), as ``mcp-shop serve``
=========================  ==================================================================

Client mistakes get a 4xx JSON ``{"error": "..."}`` saying what is wrong and what would be
valid: 400 malformed JSON, 404 unknown episode or endpoint, 409 a step on a finished episode
(or on one whose previous step is still running), 413 a body over 4 MiB, 422 a body that does
not fit (an unknown field, a bad family or difficulty, a task whose world does not fit the
shop, an action naming a tool not offered: such an action is not run at all; bad tool
*arguments* are the agent's to see, as a failed tool result), 429 the table is full. Host and
Origin headers are checked as on ``mcp-shop serve --http`` (DNS-rebinding protection: localhost
plus ``--allowed-host`` / ``--allowed-origin``): 421 / 403.

Limits: at most ``--max-episodes`` episodes are kept. A reset that finds the table full first
drops the finished episode used least recently, and fails with 429 if every one is still
running. Episodes nobody touched for ``--idle-timeout`` seconds (monotonic server time, never
the shop's clock) are dropped at the next request; a dropped episode's id then gets a 404
that says why.

The session handle: the controller injects it into every tool call, so agents never see it.
With ``--expose-session`` the reset answer also carries ``session_id``, so that an agent can
call the tools itself over ``/mcp`` (passing ``session_id``) and use ``/step`` for its messages
to the shopper. Such calls are in the server's trace, so they are scored, but they are not in
the episode's messages, observations or tool budget, and the shopper does not see their results
(only the shop state they leave); the shop state is re-read before every shopper turn.

Steps run on the server's event loop (the controller is async; the shop's SQLite calls are
short and synchronous), so many episodes proceed concurrently, interleaved at their tool calls.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import secrets
import sys
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from episodes.argtypes import bounded_float, bounded_int
from episodes.controller import Action, Episode, EpisodeController, RewardMode, ToolRequest
from episodes.difficulty import MAX_DIFFICULTY
from episodes.tasks import catalog_mismatch, load_task_set
from mcp_shop import Shop
from mcp_shop.errors import ShopError
from verifiers.types import TaskSpec

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_EPISODES",
    "EnvError",
    "EpisodeTable",
    "add_serve_env_command",
    "build_env_app",
    "cmd_serve_env",
    "main",
]

log = logging.getLogger("episodes.http_env")

DEFAULT_PORT = 8100
DEFAULT_MAX_EPISODES = 1024
DEFAULT_IDLE_TIMEOUT = 900.0  # seconds
MAX_BODY_BYTES = 4 * 1024 * 1024
# Deeper bodies are refused: they cannot be echoed back (pydantic serialises a bounded depth)
# and no task or tool call needs them.
MAX_JSON_DEPTH = 64
TASK_CACHE_SIZE = 512  # generated tasks kept (generation is deterministic)
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

# What building a task's world raises when the world does not fit the shop (unknown codes or
# variants, values out of range, ...): the client's task is at fault, so 422, not 500.
_WORLD_ERRORS = (ShopError, KeyError, TypeError, OverflowError, ValueError)


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


# -- the episode table ------------------------------------------------------------------------


@dataclass
class _Live:
    episode: Episode
    last_used: float
    busy: bool = False


@dataclass
class EpisodeTable:
    """The live episodes of one controller: reset, step, state, record, close.

    ``clock`` (monotonic seconds) only measures idleness; it never reaches the shop.
    """

    controller: EpisodeController
    tasks: Sequence[TaskSpec] = ()
    max_episodes: int = DEFAULT_MAX_EPISODES
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    expose_session: bool = False
    clock: Callable[[], float] = time.monotonic
    _live: OrderedDict[str, _Live] = field(default_factory=OrderedDict)
    _gone: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _generated: OrderedDict[tuple[str, int, int], TaskSpec] = field(default_factory=OrderedDict)
    _by_id: dict[str, TaskSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {t.task_id: t for t in self.tasks}

    @property
    def shop(self) -> Shop:
        return self.controller.shop

    def counts(self) -> dict[str, int]:
        """Episodes kept, and those still running."""
        self._sweep()
        running = sum(1 for x in self._live.values() if not x.episode.done)
        return {"episodes": len(self._live), "running": running}

    # -- reset --------------------------------------------------------------------------------

    async def reset(self, body: object) -> dict[str, Any]:
        req = _parse(ResetBody, body, "POST /reset")
        task = self._task(req)
        self._make_room()
        episode = self.controller.episode(task, policy=req.policy, trial=req.trial)
        try:
            obs = await episode.reset()
        except _WORLD_ERRORS as exc:  # a hand-written task whose world the shop rejects
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, KeyError):  # str(KeyError('x')) is just "'x'"
                detail = f"missing or unknown key {detail}"
            raise EnvError(422, f"POST /reset: task {task.task_id}'s world cannot be built on "
                           f"this shop: {detail}") from None
        episode_id = secrets.token_urlsafe(16)
        self._live[episode_id] = _Live(episode, self.clock())
        out: dict[str, Any] = {
            "episode_id": episode_id,
            "observation": obs.model_dump(mode="json"),
            "task": _task_summary(task),
            "reward_mode": self.controller.reward_mode,
            "limits": task.limits.model_dump(),
        }
        if self.expose_session:
            out["session_id"] = episode.session_id
        return out

    def _task(self, req: ResetBody) -> TaskSpec:
        forms = "give either family and difficulty (and seed, default 0), or task (a TaskSpec " \
                "object), or task_id (a task of the server's --tasks file)"
        named = [k for k in ("family", "task", "task_id") if getattr(req, k) is not None]
        if len(named) != 1:
            found = f"got {' and '.join(named)}" if named else "got none of them"
            raise EnvError(422, f"POST /reset: {forms}; {found}")
        if req.family is None and (req.difficulty is not None or req.seed is not None):
            raise EnvError(422, "POST /reset: difficulty and seed go with family (a task or "
                           "task_id brings its own)")
        if req.task is not None:
            return self._given_task(req.task)
        if req.task_id is not None:
            return self._listed_task(req.task_id)
        assert req.family is not None
        if req.difficulty is None:
            raise EnvError(422, f"POST /reset: family needs a difficulty (0 to {MAX_DIFFICULTY})")
        return self._generated_task(req.family, req.difficulty, req.seed or 0)

    def _given_task(self, doc: dict[str, Any]) -> TaskSpec:
        from episodes.tasks import _with_defaults

        try:
            task = TaskSpec.model_validate(_with_defaults(doc))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise EnvError(422, f"POST /reset: task is not a valid task: {where}: "
                           f"{first['msg']} ({exc.error_count()} problem(s); the schema is "
                           "`shop-episodes tasks --schema`)") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise EnvError(422, f"POST /reset: task is not a valid task: {exc} (the schema is "
                           "`shop-episodes tasks --schema`)") from None
        problem = catalog_mismatch(task, self.shop)
        if problem:
            raise EnvError(422, f"POST /reset: {problem}")
        return task

    def _listed_task(self, task_id: str) -> TaskSpec:
        if not self._by_id:
            raise EnvError(422, "POST /reset: this server was started without --tasks, so there "
                           "is no task_id to pick; give family and difficulty, or a task")
        task = self._by_id.get(task_id)
        if task is None:
            some = ", ".join(list(self._by_id)[:5])
            raise EnvError(404, f"POST /reset: no task {task_id!r} in the server's --tasks "
                           f"({len(self._by_id)} tasks, e.g. {some})")
        return task

    def _generated_task(self, family: str, difficulty: int, seed: int) -> TaskSpec:
        from episodes.generate import GenerationError, families, generate_task

        known = families()
        if family not in known:
            raise EnvError(422, f"POST /reset: unknown family {family!r}; families are "
                           f"{', '.join(known)}")
        key = (family, difficulty, seed)
        task = self._generated.get(key)
        if task is None:
            try:
                task = generate_task(self.shop, family, difficulty, seed)
            except (GenerationError, ValueError) as exc:
                raise EnvError(422, f"POST /reset: cannot generate {family} d{difficulty} "
                               f"seed {seed}: {exc}; try another seed") from None
            self._generated[key] = task
            while len(self._generated) > TASK_CACHE_SIZE:
                self._generated.popitem(last=False)
        self._generated.move_to_end(key)
        return task

    def _make_room(self) -> None:
        """Drop idle episodes; if the table is still full, the least recently used finished
        one; if every episode is running, refuse."""
        self._sweep()
        if len(self._live) < self.max_episodes:
            return
        for episode_id, live in self._live.items():  # least recently used first
            if live.episode.done and not live.busy:
                self._drop(episode_id, "it was finished and made room for a newer episode "
                           f"(the server keeps {self.max_episodes})")
                return
        raise EnvError(429, f"POST /reset: {len(self._live)} episodes are running, the most "
                       f"this server keeps (--max-episodes {self.max_episodes}); finish or "
                       "POST /close some, or wait for idle ones to expire after "
                       f"{self.idle_timeout:g} s")

    def _sweep(self) -> None:
        now = self.clock()
        while self._live:
            episode_id, live = next(iter(self._live.items()))
            if live.busy or now - live.last_used <= self.idle_timeout:
                return
            self._drop(episode_id, f"it expired after {self.idle_timeout:g} s without a request")

    def _drop(self, episode_id: str, reason: str) -> None:
        self._live.pop(episode_id, None)
        self._gone[episode_id] = reason
        while len(self._gone) > 10 * self.max_episodes:
            self._gone.popitem(last=False)

    # -- step ---------------------------------------------------------------------------------

    async def step(self, body: object) -> dict[str, Any]:
        req = _parse(StepBody, body, "POST /step")
        live = self._get(req.episode_id)
        episode = live.episode
        if live.busy:
            raise EnvError(409, f"episode {req.episode_id}: its previous step is still "
                           "running; send one step at a time and wait for its answer")
        if episode.done:
            raise EnvError(409, f"episode {req.episode_id} is over ({episode.stop_reason}); "
                           "GET /record for its record, or POST /reset a new one")
        action = self._action(req.action)
        live.busy = True
        try:
            if self.expose_session:
                episode.stale = True  # tools may have been called over /mcp meanwhile
            result = await episode.step(action)
        finally:
            live.busy = False
            self._touch(req.episode_id)
        return {
            "episode_id": req.episode_id,
            "observation": result.observation.model_dump(mode="json"),
            "reward": result.reward,
            "terminated": result.terminated,
            "truncated": result.truncated,
            "done": result.done,
            "info": result.info,
        }

    def _action(self, body: ActionBody) -> Action:
        if not body.tool_calls and body.message is None and not body.done:
            raise EnvError(422, "POST /step: the action does nothing: give tool_calls, a "
                           "message to the shopper, or done: true")
        names = {t["function"]["name"] for t in self.controller.tools}
        unknown = sorted({c.name for c in body.tool_calls} - names)
        if unknown:
            raise EnvError(422, f"POST /step: unknown tool {unknown[0]!r} (the action was not "
                           f"run); the tools are {', '.join(sorted(names))}")
        return Action(tool_calls=[ToolRequest(name=c.name, arguments=c.arguments)
                                  for c in body.tool_calls],
                      message=body.message, done=body.done)

    # -- reads --------------------------------------------------------------------------------

    def state(self, episode_id: str | None) -> dict[str, Any]:
        live = self._get(self._required(episode_id, "GET /state"))
        episode = live.episode
        out: dict[str, Any] = {
            "episode_id": episode_id,
            "task": _task_summary(episode.task),
            "turn": episode.turn,
            "tool_calls": len(episode.calls),
            "done": episode.done,
            "terminated": episode.terminated,
            "truncated": episode.truncated,
            "stop_reason": episode.stop_reason or None,
            "messages": [m.model_dump(mode="json", exclude_none=True)
                         for m in episode.messages],
            "reward": None,
            "success": None,
        }
        if episode.breakdown is not None:
            out.update(reward=episode.breakdown.reward, success=episode.breakdown.success)
        return out

    def record(self, episode_id: str | None) -> dict[str, Any]:
        episode_id = self._required(episode_id, "GET /record")
        episode = self._get(episode_id).episode
        if not episode.done:
            raise EnvError(409, f"episode {episode_id} is still running (turn {episode.turn}); "
                           "its record exists once a step answers done: true")
        return episode.record()

    def close(self, body: object) -> dict[str, Any]:
        req = _parse(CloseBody, body, "POST /close")
        live = self._get(req.episode_id)
        if live.busy:
            raise EnvError(409, f"episode {req.episode_id}: a step is running; close it after")
        self._drop(req.episode_id, "it was closed")
        return {"episode_id": req.episode_id, "closed": True}

    def _required(self, episode_id: str | None, what: str) -> str:
        if not episode_id:
            raise EnvError(422, f"{what}: the query needs episode_id (from POST /reset), e.g. "
                           f"{what.split()[1]}?episode_id=...")
        return episode_id

    def _get(self, episode_id: str) -> _Live:
        self._sweep()
        live = self._live.get(episode_id)
        if live is None:
            reason = self._gone.get(episode_id)
            why = f"it is gone: {reason}" if reason else "no episode has this id"
            raise EnvError(404, f"unknown episode {episode_id!r}: {why}; POST /reset starts one")
        self._touch(episode_id)
        return live

    def _touch(self, episode_id: str) -> None:
        live = self._live.get(episode_id)
        if live is not None:
            live.last_used = self.clock()
            self._live.move_to_end(episode_id)


def _task_summary(task: TaskSpec) -> dict[str, Any]:
    return {"task_id": task.task_id, "family": task.family, "difficulty": task.difficulty,
            "seed": task.seed}


# -- the app ----------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=str, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


Handler = Callable[[Request], Awaitable[Any]]


def build_env_app(shop: Shop, *, tasks: Sequence[TaskSpec] = (),
                  reward_mode: RewardMode = "sparse",
                  max_episodes: int = DEFAULT_MAX_EPISODES,
                  idle_timeout: float = DEFAULT_IDLE_TIMEOUT, expose_session: bool = False,
                  allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = (),
                  log_level: str = "WARNING") -> Starlette:
    """The env's ASGI app over ``shop`` (its lifespan opens the controller and the MCP
    endpoint's session manager). ``app.state.table`` is the ``EpisodeTable`` once started."""
    from mcp.server.transport_security import TransportSecurityMiddleware

    from mcp_shop.server import build_server
    from mcp_shop.server.http_app import build_http_app, transport_security

    server = build_server(shop, log_level=log_level.upper())  # type: ignore[arg-type]
    mcp_app = build_http_app(server, allowed_hosts=allowed_hosts,
                             allowed_origins=allowed_origins)
    mcp_routes = [r for r in mcp_app.routes if getattr(r, "path", None) == "/mcp"]
    guard = TransportSecurityMiddleware(transport_security(allowed_hosts, allowed_origins))
    holder: dict[str, EpisodeTable] = {}

    def endpoint(fn: Callable[[EpisodeTable, Request], Awaitable[Any]], *,
                 body: bool = False) -> Handler:
        async def handle(request: Request) -> Response:
            refused = await guard.validate_request(request, is_post=False)
            if refused is not None:  # DNS-rebinding protection, as on /mcp
                text = bytes(refused.body).decode(errors="replace")
                return _error(refused.status_code, f"{text}; allowed are localhost and the "
                              "server's --allowed-host / --allowed-origin values")
            try:
                if body:
                    request.state.body = await _read_json(request)
                return _json(await fn(holder["table"], request))
            except EnvError as exc:
                return _error(exc.status, exc.message)
            except Exception as exc:  # a bug here, not the client's: say so, keep serving
                log.exception("%s %s failed", request.method, request.url.path)
                return _error(500, f"internal error ({type(exc).__name__}: {exc}); the "
                              "server's log has the traceback")

        return handle

    async def reset(table: EpisodeTable, request: Request) -> Any:
        return await table.reset(request.state.body)

    async def step(table: EpisodeTable, request: Request) -> Any:
        return await table.step(request.state.body)

    async def state(table: EpisodeTable, request: Request) -> Any:
        return table.state(request.query_params.get("episode_id"))

    async def record(table: EpisodeTable, request: Request) -> Any:
        return table.record(request.query_params.get("episode_id"))

    async def close(table: EpisodeTable, request: Request) -> Any:
        return table.close(request.state.body)

    async def health(table: EpisodeTable, request: Request) -> Any:
        info = shop.catalog
        return {"status": "ok", **table.counts(), "max_episodes": table.max_episodes,
                "reward_mode": table.controller.reward_mode, "catalog": info.fingerprint,
                "products": info.product_count, "tasks": len(table.tasks)}

    async def index(table: EpisodeTable, request: Request) -> Any:
        return {"endpoints": ENDPOINTS}

    routes: list[BaseRoute] = [
        Route("/reset", endpoint(reset, body=True), methods=["POST"]),
        Route("/step", endpoint(step, body=True), methods=["POST"]),
        Route("/state", endpoint(state), methods=["GET"]),
        Route("/record", endpoint(record), methods=["GET"]),
        Route("/close", endpoint(close, body=True), methods=["POST"]),
        Route("/health", endpoint(health), methods=["GET"]),
        Route("/", endpoint(index), methods=["GET"]),
        *mcp_routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        controller = EpisodeController(shop, reward_mode=reward_mode)
        async with mcp_app.router.lifespan_context(mcp_app), controller:
            table = EpisodeTable(controller, tasks=tasks, max_episodes=max_episodes,
                                 idle_timeout=idle_timeout, expose_session=expose_session)
            holder["table"] = app.state.table = table
            yield

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, f"no endpoint {request.url.path}; the endpoints are "
                          f"{', '.join(ENDPOINTS)}")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; the "
                          f"endpoints are {', '.join(ENDPOINTS)}")
        return _error(exc.status_code, str(exc.detail))

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error})


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


# -- the command ------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"shop-episodes: {message}", file=sys.stderr, flush=True)


def cmd_serve_env(args: argparse.Namespace) -> int:
    """Open the shop (and ``--tasks``), bind the port and serve until SIGINT / SIGTERM."""
    import uvicorn

    from mcp_shop.server.http_app import bind
    from mcp_shop.server.run import ServeOptions, open_shop

    shop = open_shop(ServeOptions(db=args.db, seed=args.catalog_seed, size=args.catalog_size))
    tasks = load_task_set(args.tasks, shop) if args.tasks else []
    app = build_env_app(shop, tasks=tasks, reward_mode=args.reward_mode,
                        max_episodes=args.max_episodes, idle_timeout=args.idle_timeout,
                        expose_session=args.expose_session, allowed_hosts=args.allowed_host,
                        allowed_origins=args.allowed_origin, log_level=args.log_level)
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    shown = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    _say(f"serving the episode env at http://{shown}:{port} (POST /reset, POST /step, "
         f"GET /state, GET /health; MCP at /mcp; {len(tasks)} tasks loaded, reward mode "
         f"{args.reward_mode}, at most {args.max_episodes} episodes)")
    config = uvicorn.Config(app, log_level=args.log_level.lower(), access_log=False,
                            lifespan="on", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


_positive = bounded_int(1, what="a positive integer")


_seconds = bounded_float(0.0, what="seconds (> 0)", above=True)


_port = bounded_int(0, 65535, what="a port (0 to 65535)")


def _add_options(p: argparse.ArgumentParser) -> None:
    from mcp_shop.db import DEFAULT_DB_URL

    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default "
                   f"{DEFAULT_PORT}; 0 picks a free one, printed on stderr)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help="shop database URL (default: "
                   f"{DEFAULT_DB_URL}; the catalog is generated on first use)")
    p.add_argument("--catalog-seed", type=int, default=0, help="catalog seed (default 0)")
    p.add_argument("--catalog-size", type=_positive, default=10_000,
                   help="products in the catalog (default 10,000)")
    p.add_argument("--tasks", help="a task file (.json/.jsonl) or a directory of them, whose "
                   "tasks POST /reset can name by task_id")
    p.add_argument("--reward-mode", choices=["sparse", "shaped", "dense"], default="sparse")
    p.add_argument("--max-episodes", type=_positive, default=DEFAULT_MAX_EPISODES,
                   help=f"episodes kept at once (default {DEFAULT_MAX_EPISODES}); finished ones "
                   "make room first")
    p.add_argument("--idle-timeout", type=_seconds, default=DEFAULT_IDLE_TIMEOUT,
                   metavar="SECONDS", help="drop episodes without a request for this long "
                   f"(default {DEFAULT_IDLE_TIMEOUT:g})")
    p.add_argument("--expose-session", action="store_true", help="return the shop session_id "
                   "on reset, so agents can call the tools over /mcp themselves (default: "
                   "hidden; /step injects it)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                   help="extra Host header to accept, e.g. gpu-box:* (repeatable; localhost is "
                   "always allowed)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                   help="extra browser Origin to accept (repeatable)")
    p.add_argument("--log-level", default="WARNING",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])


DESCRIPTION = ("Serve episodes over HTTP for remote trainers: POST /reset, POST /step, "
               "GET /state, GET /record, POST /close, GET /health, and the shop's MCP endpoint "
               "at /mcp.")


def add_serve_env_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``serve-env`` on a ``shop-episodes`` subparsers object; its ``fn`` returns the
    exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve-env", help="serve episodes over HTTP (reset/step/state) for remote trainers",
        description=DESCRIPTION)
    _add_options(p)
    p.set_defaults(fn=cmd_serve_env)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m episodes.http_env [options]``: the same as ``shop-episodes serve-env``."""
    parser = argparse.ArgumentParser(prog="shop-episodes serve-env", description=DESCRIPTION)
    _add_options(parser)
    parser.set_defaults(fn=cmd_serve_env)
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except (ValueError, OSError) as exc:
        print(f"shop-episodes serve-env: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
