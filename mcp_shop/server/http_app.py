"""Streamable HTTP: the ASGI app (``/mcp`` plus ``GET /health``) with DNS-rebinding protection,
and a uvicorn runner that logs to stderr and can bind an ephemeral port.

Idle keep-alive connections are kept ``KEEP_ALIVE_SECONDS`` (75 s), well past the 5 s for which
the MCP SDK's HTTP client (httpx) reuses an idle connection: the client, not the server, retires
idle connections. With uvicorn's 5 s default both sides gave up at the same moment, so under
load (a busy server answers late, a busy client sends late) a client sent its next request on a
connection the server was closing and failed with ``ReadError``.
"""

from __future__ import annotations

import copy
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio.to_thread
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_shop import __version__
from mcp_shop.db import backend_name, ping
from mcp_shop.server.app import ShopServer
from mcp_shop.server.http_checks import CheckedMCP

__all__ = ["KEEP_ALIVE_SECONDS", "LOCAL_HOSTS", "LOCAL_ORIGINS", "add_health_route", "bind",
           "build_http_app", "serve_http", "transport_security"]

LOCAL_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]")
LOCAL_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
# Longer than any client pool's idle expiry (httpx: 5 s) and than the idle timeout of common
# load balancers (60 s), so that the other side always closes an idle connection first.
KEEP_ALIVE_SECONDS = 75


def transport_security(allowed_hosts: Sequence[str] = (),
                       allowed_origins: Sequence[str] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection, always on: localhost plus the given hosts and origins.

    Args:
        allowed_hosts: extra ``Host`` header values, e.g. ``'shop.example.com'`` or
            ``'shop.example.com:*'`` (any port).
        allowed_origins: extra browser ``Origin`` values, e.g. ``'https://app.example.com'``.
    """
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[*LOCAL_HOSTS, *allowed_hosts],
        allowed_origins=[*LOCAL_ORIGINS, *allowed_origins],
    )


def build_http_app(server: ShopServer, *, allowed_hosts: Sequence[str] = (),
                   allowed_origins: Sequence[str] = (), json_response: bool = False) -> Starlette:
    """The Starlette app: MCP at ``/mcp`` (both protocol eras) and ``GET /health`` (added by
    ``build_server``).

    Legacy (pre-2026) connections are served statelessly: no tool calls back into the client,
    so nothing is lost, and any server process can answer any request, which is what lets
    several processes on one PostgreSQL database serve the same sessions. POSTs to ``/mcp`` go
    through ``CheckedMCP`` first; an unknown path or method gets a JSON 404 / 405 naming the
    endpoints.
    """
    security = transport_security(allowed_hosts, allowed_origins)
    app = server.streamable_http_app(stateless_http=True, json_response=json_response,
                                      transport_security=security)
    app.state.transport_security = security  # what /health checks too
    for route in app.router.routes:
        if isinstance(route, Route) and route.path == "/mcp":
            route.app = CheckedMCP(route.app, security)
    app.add_exception_handler(HTTPException, _not_here)
    return app


_ENDPOINTS = "POST /mcp (MCP Streamable HTTP: JSON-RPC 2.0) and GET /health"


async def _not_here(request: Request, exc: Exception) -> Response:
    """A JSON answer to a path or method the app does not serve, naming the endpoints."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no endpoint {request.url.path}; the endpoints are {_ENDPOINTS}"
    elif exc.status_code == 405:
        message = (f"{request.method} is not allowed on {request.url.path}; the endpoints are "
                   f"{_ENDPOINTS}")
    else:
        message = str(exc.detail)
    return JSONResponse({"error": message}, status_code=exc.status_code,
                        headers=dict(exc.headers or {}))


def add_health_route(server: ShopServer) -> None:
    """Register ``GET /health`` (used by ``build_server``; served by the HTTP app only)."""
    server.custom_route("/health", methods=["GET"])(_health(server))


def _health(server: ShopServer) -> Callable[[Request], Awaitable[Response]]:
    """``GET /health``: 200 with the catalog when the database answers, else 503; behind the
    same Host and Origin checks as ``/mcp`` (421 and 403), with the same allowed values (the
    app's, else localhost only)."""

    async def health(request: Request) -> Response:
        security = getattr(request.app.state, "transport_security", None) or transport_security()
        refused = await TransportSecurityMiddleware(security).validate_request(request)
        if refused is not None:
            return refused
        try:
            await anyio.to_thread.run_sync(ping, server.shop.engine)
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            return JSONResponse({"status": "error", "error": type(exc).__name__}, status_code=503)
        info = server.shop.catalog
        return JSONResponse({"status": "ok", "version": __version__,
                             "backend": backend_name(server.shop.engine),
                             "catalog": info.fingerprint, "products": info.product_count})

    return health


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: an ephemeral port); a port in use or
    a host not of this machine is an ``OSError`` that says what to choose instead."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP, and without it small keep-alive responses wait ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose a free "
                      "--port (0 picks one) and a --host of this machine (127.0.0.1, "
                      "0.0.0.0)") from None
    sock.set_inheritable(True)
    return sock


def _stderr_logging(level: str) -> dict[str, Any]:
    import uvicorn.config

    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    for name in ("uvicorn", "uvicorn.error"):
        config["loggers"][name]["level"] = level
    config["loggers"]["uvicorn.access"]["level"] = "WARNING" if level != "DEBUG" else "INFO"
    return config


def serve_http(server: ShopServer, *, host: str = "127.0.0.1", port: int = 8000,
               allowed_hosts: Sequence[str] = (), allowed_origins: Sequence[str] = (),
               log_level: str = "INFO", keep_alive: int = KEEP_ALIVE_SECONDS) -> None:
    """Serve ``server`` over Streamable HTTP until interrupted (SIGINT / SIGTERM).

    Prints ``mcp-shop: serving MCP at http://HOST:PORT/mcp`` on stderr once the port is bound
    (the real port when ``port`` is 0). ``keep_alive``: seconds an idle connection stays open
    (keep it longer than the clients' and any proxy's idle timeout).
    """
    import uvicorn

    app = build_http_app(server, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins)
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    print(f"mcp-shop: serving MCP at http://{shown}:{bound}/mcp (health: /health)",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_config=_stderr_logging(log_level.upper()),
                            log_level=log_level.lower(), timeout_graceful_shutdown=5,
                            timeout_keep_alive=keep_alive)
    uvicorn.Server(config).run(sockets=[sock])
