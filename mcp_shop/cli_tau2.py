"""``mcp-shop import-tau2``: a tau2-bench retail checkout into a shop database, ready for
``mcp-shop serve --surface tau2-retail``.

    mcp-shop import-tau2 ~/src/tau2-bench --db sqlite:///tau2.db
    mcp-shop serve --surface tau2-retail --db sqlite:///tau2.db          # stdio
    mcp-shop serve --surface tau2-retail --db sqlite:///tau2.db --http   # Streamable HTTP

The import reads and checks the checkout (``mcp_shop.tau2.loader``), writes the world's
products as the database's catalog, installs its users and orders as the template every tau2
session is copied from, and builds the search index. Run again on the same database it finds
the catalog and the world in place and writes nothing. Exit codes: 0 done, 2 it cannot run as
given (a checkout with a problem, named in one line; a database holding another catalog
without ``--replace``; an unusable database).
"""

from __future__ import annotations

import argparse
import time

from mcp_shop.cli_support import add_db_option

__all__ = ["add_import_tau2_parser", "cmd_import_tau2"]


def add_import_tau2_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import-tau2`` on the ``mcp-shop`` sub-command parser."""
    p = sub.add_parser(
        "import-tau2", help="import a tau2-bench retail checkout (its products, users and "
        "orders) to serve with serve --surface tau2-retail",
        description="Import the retail world of your own tau2-bench checkout: its products "
        "become the catalog, its users and orders the world every tau2 session starts from. "
        "Nothing is downloaded.")
    p.add_argument("path", metavar="PATH",
                   help="the checkout's root, its data directory, or its "
                   "data/tau2/domains/retail directory")
    add_db_option(p, note="; must not hold another catalog (see --replace)")
    p.add_argument("--replace", action="store_true",
                   help="replace the catalog the database holds (every session of it is "
                   "dropped too)")
    p.add_argument("--no-index", action="store_true",
                   help="skip building the search index (it is built on first use then)")
    p.set_defaults(fn=cmd_import_tau2)


def cmd_import_tau2(args: argparse.Namespace) -> int:
    from mcp_shop.cli import console, err
    from mcp_shop.db import make_engine
    from mcp_shop.shop import Shop, default_index_dir
    from mcp_shop.tau2.install import import_tau2_world
    from mcp_shop.tau2.loader import load_tau2_retail

    started = time.perf_counter()

    def step(text: str) -> None:
        err.print(f"[{time.perf_counter() - started:5.1f} s] {text}", soft_wrap=True,
                  markup=False)

    step(f"reading the checkout at {args.path}")
    world = load_tau2_retail(args.path)
    stats = world.db.statistics()
    engine = make_engine(args.db)
    try:
        key = import_tau2_world(
            engine, world, replace=args.replace, step=step,
            remedy="import into a new database, or pass --replace to drop the catalog it "
            "holds and every session of it").key
        if not args.no_index:
            step("building the search index")
            Shop(engine, index_dir=default_index_dir(args.db))
    finally:
        engine.dispose()
    step("done")
    console.print(f"tau2 retail world {key[:12]} in {args.db}: {stats['products']:,} products, "
                  f"{stats['items']:,} items, {stats['users']:,} users, {stats['orders']:,} "
                  f"orders, {len(world.tasks):,} tasks. Serve it with: mcp-shop serve "
                  f"--surface tau2-retail --db {args.db}", soft_wrap=True, markup=False)
    return 0
