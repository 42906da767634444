"""``build_env_app``: the env server's ASGI app. openenv-core's ``HTTPEnvServer`` on FastAPI
(``/ws``, ``/schema``, ``/metadata``, ``/docs``) over ``ShopEnvironment``; the stateful plain-HTTP
routes (``/reset``, ``/step``, ``/state``, ``/record``, ``/close``, ``/health``) in place of
OpenEnv's stateless ones; the shop's MCP endpoint at ``/mcp``; ``Guard`` in front."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from episodes.controller import EpisodeController, RewardMode
from episodes.http_env.protocol import (
    ENDPOINTS,
    CloseBody,
    EnvError,
    ResetBody,
    StepBody,
    _parse,
    _read_json,
    dumps,
)
from episodes.http_env.sessions import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_EPISODES,
    DEFAULT_POOL,
    EpisodeTable,
)
from mcp_shop import Shop
from verifiers.types import TaskSpec

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["Handler", "build_env_app", "log"]

log = logging.getLogger("episodes.http_env")

# OpenEnv's routes that ours replace: its HTTP reset/step/state make a fresh environment per
# request (so no multi-step episode over plain HTTP), its /health says less, and its /mcp is a
# JSON-RPC shim over Environment.mcp_client where ours is the shop's real MCP endpoint.
_REPLACED = frozenset({"/reset", "/step", "/state", "/health", "/mcp"})


def _json(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


Handler = Callable[[Request], Awaitable[Response]]


def build_env_app(shop: Shop, *, tasks: Sequence[TaskSpec] = (),
                  reward_mode: RewardMode = "sparse",
                  max_episodes: int = DEFAULT_MAX_EPISODES,
                  idle_timeout: float = DEFAULT_IDLE_TIMEOUT, expose_session: bool = False,
                  allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = (),
                  log_level: str = "WARNING", pool: str = DEFAULT_POOL,
                  keep_sessions: bool = False) -> FastAPI:
    """The env server's app over ``shop`` (its lifespan opens the controller and the MCP
    endpoint's session manager). ``app.state.table`` is its ``EpisodeTable``, whose episodes
    live in the shop's database under ``pool``: every server on that database and pool serves
    them."""
    from fastapi import FastAPI
    from openenv.core.env_server.http_server import HTTPEnvServer
    from openenv.core.env_server.serialization import serialize_observation

    from episodes.http_env.guard import Guard
    from episodes.openenv_env.environment import ENV_NAME, ShopEnvironment, state_of
    from episodes.openenv_env.models import ShopAction, ShopObservation
    from mcp_shop.server import build_server
    from mcp_shop.server.http_app import build_http_app

    server = build_server(shop, log_level=log_level.upper())  # type: ignore[arg-type]
    mcp_app = build_http_app(server, allowed_hosts=allowed_hosts,
                             allowed_origins=allowed_origins)
    controller = EpisodeController(shop, reward_mode=reward_mode)
    table = EpisodeTable(controller, tasks=tasks, max_episodes=max_episodes,
                         idle_timeout=idle_timeout, expose_session=expose_session, pool=pool,
                         keep_sessions=keep_sessions)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp_app.router.lifespan_context(mcp_app), controller:
            table.loop = asyncio.get_running_loop()
            yield

    app = FastAPI(title=f"{ENV_NAME}: the mcp-shop episode environment (OpenEnv)",
                  version="1.0.0", lifespan=lifespan,
                  description="OpenEnv server of the shop's episodes; the protocol is in the "
                  "docstring of episodes.http_env.")
    env_server = HTTPEnvServer(functools.partial(ShopEnvironment, table), ShopAction,
                               ShopObservation, max_concurrent_envs=max_episodes)
    env_server.register_routes(app)
    app.router.routes[:] = [r for r in app.router.routes
                            if getattr(r, "path", None) not in _REPLACED]
    app.state.table = table

    def endpoint(fn: Callable[[Request], Awaitable[Any]], *, body: bool = False) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                if body:
                    request.state.body = await _read_json(request)
                return _json(await fn(request))
            except EnvError as exc:
                return _error(exc.status, exc.message)
            except ClientDisconnect:  # gone before its body was complete: nothing was done
                log.info("%s %s: the client left before sending its whole body",
                         request.method, request.url.path)
                return _error(400, "the body ended early (the client went away)")
            except Exception as exc:  # a bug here, not the client's: say so, keep serving
                log.exception("%s %s failed", request.method, request.url.path)
                return _error(500, f"internal error ({type(exc).__name__}: {exc}); the "
                              "server's log has the traceback")

        return handle

    async def reset(request: Request) -> Any:
        env = ShopEnvironment(table, reset_as="POST /reset")
        return serialize_observation(await env.start(request.state.body))

    async def step(request: Request) -> Any:
        req = _parse(StepBody, request.state.body, "POST /step")
        action = _parse(ShopAction, req.action, "POST /step", where="action.")
        env = ShopEnvironment(table, req.episode_id, reset_as="POST /reset")
        return serialize_observation(await env.step_async(action))

    async def state(request: Request) -> Any:
        return state_of(request.query_params.get("episode_id"), table).model_dump(mode="json")

    async def record(request: Request) -> Any:
        return table.record(request.query_params.get("episode_id"))

    async def close(request: Request) -> Any:
        req = _parse(CloseBody, request.state.body, "POST /close")
        table.close(req.episode_id)
        return {"episode_id": req.episode_id, "closed": True}

    async def health(request: Request) -> Any:
        info = shop.catalog
        return {"status": "healthy", **table.counts(), "pool": table.pool,
                "max_episodes": table.max_episodes,
                "sessions": env_server.active_sessions, "reward_mode": controller.reward_mode,
                "catalog": info.fingerprint, "products": info.product_count,
                "tasks": len(table.tasks)}

    async def index(request: Request) -> Any:
        return {"name": ENV_NAME, "endpoints": ENDPOINTS}

    def schema_of(model: Any) -> dict[str, Any]:  # the request body in /openapi.json
        return {"requestBody": {"required": True, "content": {"application/json": {
            "schema": model.model_json_schema()}}}}

    routes: list[tuple[str, Handler, str, dict[str, Any] | None]] = [
        ("/reset", endpoint(reset, body=True), "POST", schema_of(ResetBody)),
        ("/step", endpoint(step, body=True), "POST", schema_of(StepBody)),
        ("/state", endpoint(state), "GET", None),
        ("/record", endpoint(record), "GET", None),
        ("/close", endpoint(close, body=True), "POST", schema_of(CloseBody)),
        ("/health", endpoint(health), "GET", None),
        ("/", endpoint(index), "GET", None),
    ]
    for path, handler, method, extra in routes:
        app.add_api_route(path, handler, methods=[method], openapi_extra=extra,
                          summary=ENDPOINTS.get(f"{method} {path}") or None)
    app.router.routes.extend(r for r in mcp_app.routes if getattr(r, "path", None) == "/mcp")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return _error(404, f"no endpoint {request.url.path}; the endpoints are "
                          f"{', '.join(ENDPOINTS)}")
        if exc.status_code == 405:
            return _error(405, f"{request.method} is not allowed on {request.url.path}; the "
                          f"endpoints are {', '.join(ENDPOINTS)}")
        return _error(exc.status_code, str(exc.detail))

    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(Guard, allowed_hosts=allowed_hosts,  # type: ignore[arg-type]
                       allowed_origins=allowed_origins)
    return app
