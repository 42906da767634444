"""Start-up for ``mcp-shop serve``: open (or build) the shop, then serve it over stdio or
Streamable HTTP. Logs go to stderr only; on stdio, stdout is the protocol wire.

``--surface tau2-retail`` serves tau2-bench retail's tools instead of the shop's own, over a
database given a tau2 world by ``mcp-shop import-tau2`` (never built here).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from mcp_shop.shop import Shop
from mcp_shop.tool_catalog import Surface

__all__ = ["SERVE_SQLITE_CACHE_MIB", "ServeOptions", "bound_sqlite_cache", "freeze_startup_heap",
           "open_shop", "open_tau2_shop", "serve"]

log = logging.getLogger("mcp_shop.server")

# SQLite page cache of each connection of a serving process. A server's database grows with
# every session (carts, orders, trace records), and each new page it writes stays cached up to
# the cache size: with the 64 MiB that suits building and importing catalogs, a server's memory
# kept growing round after round of load. What it reads back is a small hot set (sessions,
# carts, the rows of the products asked for); the operating system caches the rest of the file.
SERVE_SQLITE_CACHE_MIB = 8


@dataclass
class ServeOptions:
    """Everything ``mcp-shop serve`` can be told."""

    db: str
    seed: int | None = None
    size: int | None = None
    schema: str | None = None
    index_dir: str | None = None
    http: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    allowed_hosts: Sequence[str] = field(default_factory=tuple)
    allowed_origins: Sequence[str] = field(default_factory=tuple)
    session: str | None = None
    session_seed: int = 0
    log_level: str = "INFO"
    keep_alive: int = 75  # idle HTTP connections: see http_app.KEEP_ALIVE_SECONDS
    surface: Surface = "native"
    world: str | None = None  # tau2-retail: the installed world (default: the only one)


def _say(message: str) -> None:
    print(f"mcp-shop: {message}", file=sys.stderr, flush=True)


def open_shop(options: ServeOptions) -> Shop:
    """The shop at ``options.db``: the catalog it holds, or, on first start, a new catalog of
    ``(seed, size)`` (default 0 and 10,000). With seed or size given, the database must hold
    exactly that catalog."""
    from mcp_shop.catalog import load_catalog_info
    from mcp_shop.db import make_engine
    from mcp_shop.shop import default_index_dir

    started = time.perf_counter()
    where = options.index_dir or default_index_dir(options.db)
    if options.seed is None and options.size is None:
        engine = make_engine(options.db, schema=options.schema)
        if load_catalog_info(engine) is not None:
            shop = Shop(engine, index_dir=Path(where) if where else None)
            bound_sqlite_cache(shop.engine)
            _opened(shop, started)
            return shop
        engine.dispose()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 2 or done == total:
            last[0] = now
            _say(f"building the catalog: {done:,} / {total:,} products")

    shop = Shop.open(options.db, seed=0 if options.seed is None else options.seed,
                     size=10_000 if options.size is None else options.size,
                     schema=options.schema, index_dir=where, progress=progress)
    bound_sqlite_cache(shop.engine)
    _opened(shop, started)
    return shop


def open_tau2_shop(options: ServeOptions) -> tuple[Shop, str]:
    """The shop at ``options.db`` and the key of its tau2 world (``options.world``, or the only
    one installed); ``InvalidState`` / ``InvalidInput`` saying what to run when the database
    holds none or the options are the native catalog's."""
    from mcp_shop.catalog import load_catalog_info
    from mcp_shop.db import make_engine
    from mcp_shop.errors import InvalidInput, InvalidState
    from mcp_shop.server.tools_tau2 import INSTALL_HINT, pick_world
    from mcp_shop.shop import default_index_dir

    if options.seed is not None or options.size is not None:
        raise InvalidInput("--seed and --size choose a generated catalog: the tau2-retail "
                           "surface serves the catalog of its tau2 world (leave them out)")
    started = time.perf_counter()
    engine = make_engine(options.db, schema=options.schema)
    try:
        if load_catalog_info(engine) is None:
            raise InvalidState(f"the database holds no tau2 retail world: {INSTALL_HINT}")
        key = pick_world(engine, options.world)
    except BaseException:
        engine.dispose()
        raise
    where = options.index_dir or default_index_dir(options.db)
    shop = Shop(engine, index_dir=Path(where) if where else None)
    bound_sqlite_cache(shop.engine)
    _opened(shop, started)
    _say(f"tau2 retail world {key[:12]}")
    return shop, key


def bound_sqlite_cache(engine: Engine, mib: int = SERVE_SQLITE_CACHE_MIB) -> None:
    """Cap the page cache of every connection of a SQLite ``engine`` at ``mib`` MiB (the
    connections already open are closed and reopened on demand with the cap); other backends
    are left as they are."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _cap(dbapi_conn: Any, _record: Any) -> None:  # after make_engine's own PRAGMAs
        dbapi_conn.execute(f"PRAGMA cache_size=-{mib * 1024}")

    engine.dispose()


def _opened(shop: Shop, started: float) -> None:
    info = shop.catalog
    _say(f"catalog {info.fingerprint[:12]} (seed {info.seed}, {info.product_count:,} products) "
         f"ready in {time.perf_counter() - started:.1f} s")


def freeze_startup_heap() -> int:
    """Move every object alive now (the shop, its catalog and index caches, the server, its
    tools and schemas, the imported modules) out of the garbage collector's reach; returns how
    many. They live as long as the process, yet each full collection walked them all: about
    0.1 s of CPU with a 10,000-product catalog, all of it stalling the event loop, which under
    200 concurrent sessions (with the CPU shared) held the loop for 0.4-1.5 s at a time. What
    requests allocate later is collected as before."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def serve(options: ServeOptions) -> int:
    """Open the shop and serve it until the client disconnects (stdio) or a signal (HTTP)."""
    from mcp_shop.server import build_server
    from mcp_shop.server.http_app import serve_http

    level = options.log_level.upper()
    world = None
    if options.surface == "tau2-retail":
        shop, world = open_tau2_shop(options)
    else:
        shop = open_shop(options)
    surface: dict[str, Any] = {"surface": options.surface, "world": world}
    if options.http:
        server = build_server(shop, log_level=level, **surface)  # type: ignore[arg-type]
        freeze_startup_heap()
        serve_http(server, host=options.host, port=options.port,
                   allowed_hosts=options.allowed_hosts, allowed_origins=options.allowed_origins,
                   log_level=level, keep_alive=options.keep_alive)
        return 0
    sid = _default_session(shop, options, world)
    server = build_server(shop, default_session=sid, log_level=level,  # type: ignore[arg-type]
                          **surface)
    freeze_startup_heap()
    server.run("stdio")
    return 0


def _default_session(shop: Shop, options: ServeOptions, world: str | None) -> str:
    """stdio: the session calls without a handle use (resumed, else opened now)."""
    from mcp_shop.errors import NotFound
    from mcp_shop.server.surfaces import session_surface, wrong_surface
    from mcp_shop.sessions import check_handle

    if options.session:
        sid = check_handle(options.session)  # raises for a malformed handle
        surface = session_surface(shop, sid)
        if surface is None:
            raise NotFound("unknown session_id: open a session with open_session first"
                           if options.surface == "native" else
                           f"unknown session {sid}: leave --session out to open a new one")
        if surface != options.surface:
            raise wrong_surface(surface, options.surface)
        _say(f"default session {sid} (resumed)")
    elif world is not None:
        from mcp_shop.tau2.session_world import open_tau2_session

        sid = open_tau2_session(shop.engine, world)
        _say(f"default session {sid} (tau2 world {world[:12]})")
    else:
        sid = shop.open_session(seed=options.session_seed).session_id
        _say(f"default session {sid} (seed {options.session_seed})")
    return sid
