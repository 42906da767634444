"""``mcp-shop prune``: remove old sessions (and every row they own) from a shop database.

    mcp-shop prune --keep 100 --db sqlite:///shop.db          # all but the 100 opened last
    mcp-shop prune --all --dry-run                            # what removing all would remove
    mcp-shop prune --session HANDLE --session HANDLE2
    mcp-shop prune --all --vacuum                             # then give the space back

Sessions keep no wall-clock time (their clocks are simulated), so "old" means opened earlier:
``--keep N`` keeps the N sessions opened last. The catalog is never touched. Sessions are
removed in transactions of ``--batch`` sessions, so a server may keep serving meanwhile (a
session in use finishes its call first; later calls on it get "unknown session_id").
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.table import Table

from mcp_shop.cli_support import add_db_option, bounded, make_console
from mcp_shop.errors import InvalidInput, NotFound

__all__ = ["add_prune_parser", "cmd_prune"]

console = make_console()
err = make_console(stderr=True)


def add_prune_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``prune`` on the ``mcp-shop`` sub-command parser."""
    from mcp_shop.pruning import DEFAULT_BATCH

    p = sub.add_parser(
        "prune", help="remove old sessions and every row they own (the catalog stays)",
        description="Remove sessions and every row they own (cart, orders, returns, stock and "
        "price overrides, trace ...) from a shop database, in batches; prints the sessions and "
        "rows removed and the database size before and after. Say which sessions: --keep N "
        "(all but the N opened last), --all, or --session HANDLE.")
    add_db_option(p)
    p.add_argument("--schema", default=None, help="PostgreSQL schema holding the shop tables")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--keep", type=bounded(0, 2**62), metavar="N",
                       help="keep the N sessions opened last, remove the others")
    which.add_argument("--all", action="store_true", help="remove every session")
    which.add_argument("--session", action="append", metavar="HANDLE",
                       help="remove this session (repeatable); an unknown one is an error "
                       "(a handle starting with '-', from an older version, as "
                       "--session=HANDLE)")
    p.add_argument("--dry-run", action="store_true",
                   help="count what would be removed; remove nothing")
    p.add_argument("--batch", type=bounded(1, 10_000), default=DEFAULT_BATCH, metavar="N",
                   help=f"sessions removed per transaction (default {DEFAULT_BATCH})")
    p.add_argument("--vacuum", action="store_true",
                   help="afterwards give the space back: SQLite rewrites the file (VACUUM; "
                   "needs free disk for a copy and blocks writers while it runs); PostgreSQL "
                   "runs VACUUM ANALYZE on the session tables (space is reused, not returned)")
    p.set_defaults(fn=cmd_prune)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _open(db: str, schema: str | None) -> Any:
    """An engine on an existing shop database (nothing is created: a missing file, schema or
    shop table is InvalidInput)."""
    from sqlalchemy import inspect, text

    from mcp_shop.db import make_engine, sqlite_path

    path = sqlite_path(db)
    if path is not None and not path.is_file():
        raise InvalidInput(f"no database at {db!r}: the file {str(path)!r} does not exist",
                           url=db)
    if schema is not None:
        if path is not None or not db.startswith("postgresql"):
            raise InvalidInput("--schema is for PostgreSQL databases only")
        probe = make_engine(db)
        try:
            with probe.connect() as conn:
                found = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                                     {"s": schema}).first()
        finally:
            probe.dispose()
        if found is None:
            raise InvalidInput(f"the database has no schema {schema!r}", schema=schema)
    engine = make_engine(db, schema=schema)
    if not inspect(engine).has_table("shop_session"):
        engine.dispose()
        raise InvalidInput(f"{db!r} holds no shop sessions table: is it a shop database "
                           "(built with mcp-shop build or import)?", url=db)
    return engine


def _check_sessions(engine: Any, handles: list[str]) -> None:
    """Every handle names an existing session (else NotFound naming the first that does
    not); malformed ones are InvalidInput."""
    from mcp_shop.db import read_tx
    from mcp_shop.pruning import select_sessions

    with read_tx(engine) as conn:
        found = set(select_sessions(conn, session_ids=handles))
    missing = [h for h in handles if h not in found]
    if missing:
        raise NotFound(f"unknown session {missing[0]!r} (nothing was removed)",
                       session_id=missing[0])


def cmd_prune(args: argparse.Namespace) -> int:
    from mcp_shop.cli import _progress
    from mcp_shop.pruning import database_size, prune_sessions, vacuum

    engine = _open(args.db, args.schema)
    try:
        if args.session:
            _check_sessions(engine, args.session)
        before = database_size(engine)
        started = time.perf_counter()
        label = "Counting" if args.dry_run else "Removing"
        with _progress(f"{label} sessions") as (progress,):
            result = prune_sessions(engine, keep=args.keep, session_ids=args.session,
                                    dry_run=args.dry_run, batch=args.batch, progress=progress)
        elapsed = time.perf_counter() - started
        table = Table("table", title="rows by table")
        table.add_column("rows", justify="right")
        for name, n in sorted(result.rows.items(), key=lambda kv: (-kv[1], kv[0])):
            if n:
                table.add_row(name, f"{n:,}")
        if result.total_rows:
            console.print(table)
        verb = "Would remove" if args.dry_run else "Removed"
        console.print(f"{verb} {result.sessions:,} sessions ({result.total_rows:,} rows) in "
                      f"{elapsed:.1f} s", soft_wrap=True)
        if args.vacuum and not args.dry_run:
            vacuum(engine)
        after = database_size(engine)
        note = ""
        if not args.dry_run and not args.vacuum and result.sessions:
            note = " (the freed space is reused by new sessions; --vacuum gives it back)"
        console.print(f"Database size: {_mb(before)} before, {_mb(after)} after{note}",
                      soft_wrap=True)
    finally:
        engine.dispose()
    return 0
