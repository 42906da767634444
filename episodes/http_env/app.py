"""``build_env_app``: the env's ASGI app, its routes over an ``EpisodeTable``, the
Host/Origin checks and JSON answers, and the shop's MCP endpoint beside them."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from episodes.controller import EpisodeController, RewardMode
from episodes.http_env.protocol import ENDPOINTS, EnvError, _read_json
from episodes.http_env.sessions import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_EPISODES,
    EpisodeTable,
)
from mcp_shop import Shop
from verifiers.types import TaskSpec

__all__ = ["Handler", "build_env_app", "log"]

log = logging.getLogger("episodes.http_env")


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
