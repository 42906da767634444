"""Start-up for ``mcp-shop serve``: open (or build) the shop, then serve it over stdio or
Streamable HTTP. Logs go to stderr only; on stdio, stdout is the protocol wire.
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

__all__ = ["SERVE_SQLITE_CACHE_MIB", "ServeOptions", "bound_sqlite_cache", "freeze_startup_heap",
           "open_shop", "serve"]

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
    shop = open_shop(options)
    if options.http:
        server = build_server(shop, log_level=level)  # type: ignore[arg-type]
        freeze_startup_heap()
        serve_http(server, host=options.host, port=options.port,
                   allowed_hosts=options.allowed_hosts, allowed_origins=options.allowed_origins,
                   log_level=level, keep_alive=options.keep_alive)
        return 0
    if options.session:
        sid = shop.session(options.session).session_id  # raises for an unknown handle
        _say(f"default session {sid} (resumed)")
    else:
        sid = shop.open_session(seed=options.session_seed).session_id
        _say(f"default session {sid} (seed {options.session_seed})")
    server = build_server(shop, default_session=sid, log_level=level)  # type: ignore[arg-type]
    freeze_startup_heap()
    server.run("stdio")
    return 0
