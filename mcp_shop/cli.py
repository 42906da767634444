"""The ``mcp-shop`` command: build a catalog, take a guided tour of the shop, serve it over MCP.

    mcp-shop build --db sqlite:///shop.db --seed 0 --size 10000
    mcp-shop tour                      # builds the default catalog on first use, then tours it
    mcp-shop serve                     # MCP over stdio (logs on stderr)
    mcp-shop serve --http --host 127.0.0.1 --port 8000   # Streamable HTTP at /mcp, GET /health
    mcp-shop import --format amazon meta.jsonl.gz --db sqlite:///mystore.db   # your own catalog
    mcp-shop prune --keep 100          # remove every session but the 100 opened last
    mcp-shop import-tau2 ~/src/tau2-bench --db sqlite:///tau2.db   # a tau2-bench retail world
    mcp-shop serve --surface tau2-retail --db sqlite:///tau2.db    # ... served with tau2's tools

--db defaults to $MCP_SHOP_DB when set, else sqlite:///shop.db. Exit codes: 0 done, 1 import
--strict stopped at a bad row, 2 the command cannot run as given (bad option, unusable database
or port), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from mcp_shop.cli_import import add_import_parser
from mcp_shop.cli_prune import add_prune_parser
from mcp_shop.cli_support import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_db_option,
    add_version_option,
    bounded,
    database_problem,
    make_console,
    print_error,
)
from mcp_shop.cli_tau2 import add_import_tau2_parser
from mcp_shop.errors import ShopError
from mcp_shop.money import dollars

__all__ = ["main"]

console = make_console()
err = make_console(stderr=True)


@contextmanager
def _progress(*labels: str) -> Iterator[list[Callable[[int, int], None]]]:
    """One progress bar per label, in one live display; yields their update callbacks."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as bar:
        tasks = [bar.add_task(label, total=None, start=False) for label in labels]

        def updater(task: TaskID) -> Callable[[int, int], None]:
            def update(done: int, total: int) -> None:
                bar.start_task(task)
                bar.update(task, completed=done, total=total)
            return update

        yield [updater(t) for t in tasks]


def _open_shop(args: argparse.Namespace):  # noqa: ANN202 - returns Shop
    from mcp_shop.catalog import load_catalog_info
    from mcp_shop.db import make_engine
    from mcp_shop.shop import Shop

    engine = make_engine(args.db)
    exists = load_catalog_info(engine) if _has_tables(engine) else None
    engine.dispose()
    started = time.perf_counter()
    if exists is None:
        with _progress(f"Generating {args.size:,} products (seed {args.seed})",
                       "Building the search index") as (progress, index_progress):
            shop = Shop.open(args.db, seed=args.seed, size=args.size, progress=progress,
                             index_progress=index_progress)
        err.print(f"Catalog and search index built in {time.perf_counter() - started:.1f} s")
    else:
        shop = Shop.open(args.db, seed=args.seed, size=args.size)
    return shop


def _has_tables(engine) -> bool:  # noqa: ANN001
    from sqlalchemy import inspect

    return inspect(engine).has_table("catalog_info")



def cmd_build(args: argparse.Namespace) -> int:
    shop = _open_shop(args)
    info = shop.catalog
    console.print(f"Catalog {info.fingerprint[:12]}: {info.product_count:,} products, "
                  f"{info.variant_count:,} variants, {info.category_count} categories "
                  f"in {args.db}")
    return 0


def _tour_searches(shop: Any, source: str) -> tuple[list[tuple[str, dict[str, Any]]], Any]:
    """The tour's searches and the query whose first item in stock it buys: fixed ones on the
    generated catalog; on an imported one, its three largest leaf categories."""
    from sqlalchemy import select

    from mcp_shop.models import Category
    from mcp_shop.search import SearchQuery

    if source == "generated":
        return ([("wireless headphones", {"max_price_cents": 10000, "sort": "rating"}),
                 ("dinosaur", {"category": "toys"}),
                 ("running shoes", {"in_stock_only": True, "sort": "price_asc"})],
                SearchQuery(text="running shoes", in_stock_only=True, page_size=5))
    C = Category.__table__  # type: ignore[attr-defined]  # noqa: N806
    with shop.engine.connect() as conn:
        leaves = conn.execute(select(C.c.name, C.c.slug).where(C.c.is_leaf)
                              .order_by(C.c.product_count.desc(), C.c.id).limit(3)).all()
    return ([(name, {"category": slug, "sort": "rating"}) for name, slug in leaves],
            SearchQuery(category=leaves[0].slug if leaves else None, in_stock_only=True,
                        page_size=5))


def cmd_tour(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from mcp_shop.models import Category
    from mcp_shop.search import SearchQuery

    shop = _open_shop(args)
    info = shop.catalog
    console.rule(f"[bold]The catalog[/] ({args.db})")
    console.print(f"{info.product_count:,} products, {info.variant_count:,} variants, "
                  f"{info.category_count} categories (seed {info.seed}, "
                  f"generator {info.generator_version})")
    C = Category.__table__  # type: ignore[attr-defined]  # noqa: N806
    with shop.engine.connect() as conn:
        depts = conn.execute(select(C.c.name, C.c.product_count, C.c.slug)
                             .where(C.c.parent_id.is_(None)).order_by(C.c.name)).all()
        leaves = conn.execute(select(func.count()).select_from(C).where(C.c.is_leaf)).scalar()
    table = Table("department", "slug", "products", title=f"{len(depts)} departments, "
                  f"{leaves} leaf categories")
    for name, count, slug in depts:
        table.add_row(name, slug, f"{count:,}")
    console.print(table)

    session = shop.open_session(seed=args.seed)
    sid = session.session_id
    console.rule("[bold]A shopping session[/]")
    customer = shop.get_customer(sid)
    console.print(f"Session {sid[:8]}… for {customer.name} ({customer.tier} tier), "
                  f"simulated clock {session.clock:%Y-%m-%d %H:%M}")
    searches, buy = _tour_searches(shop, info.source)
    for text, extra in searches:
        started = time.perf_counter()
        page = shop.search(sid, SearchQuery(text=text, page_size=3, **extra))
        ms = (time.perf_counter() - started) * 1000
        filters = ", ".join(f"{k}={v}" for k, v in extra.items())
        table = Table("product", "title", "price", "rating", "stock",
                      title=f"search '{text}' ({filters}): {page.total:,} matches, {ms:.1f} ms")
        for hit in page.hits:
            table.add_row(hit.product_id, hit.title, dollars(hit.price_cents),
                          f"{hit.rating:.1f} ({hit.rating_count:,})",
                          "yes" if hit.in_stock else "no")
        console.print(table)
    page = shop.search(sid, buy)
    product = next((p for p in (shop.get_product(sid, h.product_id) for h in page.hits)
                    if any(v.stock > 0 for v in p.variants)), None)
    if product is None:
        console.print("\nNothing in stock to buy in this catalog's largest category; the tour "
                      "ends here")
        return 0
    variant = next(v for v in product.variants if v.stock > 0)
    console.print(f"\nAdding {product.title} ({', '.join(variant.options.values()) or 'one size'}"
                  f", {variant.variant_id}) to the cart")
    cart = shop.add_to_cart(sid, variant.variant_id, 1)
    try:
        cart = shop.apply_discount_code(sid, "FREESHIP")
        console.print("Applied code FREESHIP")
    except ShopError as exc:
        console.print(f"Code rejected: {exc}")
    console.print(f"Cart: subtotal {dollars(cart.subtotal_cents)}, discount "
                  f"{dollars(cart.discount_cents)}, shipping "
                  f"{dollars(cart.standard_shipping_cents)}, total {dollars(cart.total_cents)}")
    order = shop.checkout(sid, payment_method_id=customer.payment_methods[0].payment_method_id)
    console.print(f"Placed {order.order_id}: {order.status}, total {dollars(order.total_cents)}, "
                  f"tracking {order.shipments[0].tracking_number}")
    for days in (1, 5):
        shop.advance_clock(sid, days=days)
        console.print(f"  +{days} day(s): {shop.get_order(sid, order.order_id).status}")
    elig = shop.check_return_eligibility(sid, order.order_id)[0]
    console.print(f"Return eligibility: {elig.reason}")
    if not elig.eligible:
        return 0
    ret = shop.request_return(sid, order.order_id, [(variant.variant_id, 1)],
                              reason="changed_mind")
    console.print(f"Returned it: {ret.return_id}, refund {dollars(ret.refund_cents)} to the "
                  "original payment method")
    history = shop.list_orders(sid)
    console.print(f"Order history now holds {len(history)} orders: "
                  + ", ".join(f"{o.order_id} ({o.status})" for o in history))
    return 0


def _check_port(host: str, port: int) -> None:
    """Bind ``host:port`` once and let it go, so that a port in use or a bad host is reported
    before the catalog is opened (or built)."""
    if port == 0:
        return
    from mcp_shop.server.http_app import bind

    bind(host, port).close()


def cmd_serve(args: argparse.Namespace) -> int:
    from mcp_shop.server.run import ServeOptions, serve

    if args.http:
        _check_port(args.host, args.port)
    return serve(ServeOptions(
        db=args.db, seed=args.seed, size=args.size, schema=args.schema, index_dir=args.index_dir,
        http=args.http, host=args.host, port=args.port, allowed_hosts=args.allowed_host,
        allowed_origins=args.allowed_origin, session=args.session,
        session_seed=args.session_seed, log_level=args.log_level, surface=args.surface,
        world=args.world))


def _add_serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="serve the shop over MCP (stdio, or Streamable HTTP)",
                       description="Serve the shop over MCP. The catalog is built on first "
                       "start and reused after. Logs go to stderr only.")
    add_db_option(p, note="; the catalog is built on first start")
    p.add_argument("--schema", default=None, help="PostgreSQL schema holding the shop tables")
    p.add_argument("--seed", type=int, default=None,
                   help="catalog seed (default: the catalog the database holds, else 0)")
    p.add_argument("--size", type=int, default=None,
                   help="number of products (default: the catalog the database holds, else "
                   "10000 on first start)")
    p.add_argument("--index-dir", default=None,
                   help="where search indexes live (default: beside a SQLite file, else "
                   "~/.cache/mcp-shop/search)")
    p.add_argument("--http", action="store_true",
                   help="serve Streamable HTTP at /mcp (plus GET /health) instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=bounded(0, 65535), default=8000,
                   help="HTTP port (default 8000; 0 picks a free port, printed on stderr)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                   help="extra Host header to accept, e.g. shop.example.com or "
                   "shop.example.com:* (repeatable; localhost is always allowed)")
    p.add_argument("--allowed-origin", action="append", default=[], metavar="ORIGIN",
                   help="extra browser Origin to accept, e.g. https://app.example.com "
                   "(repeatable)")
    p.add_argument("--session", default=None, metavar="HANDLE",
                   help="stdio: resume this session as the default one instead of opening one "
                   "(a handle starting with '-', from an older version, as --session=HANDLE)")
    p.add_argument("--session-seed", type=int, default=0,
                   help="stdio: seed of the default session opened at start-up (default 0)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                   help="log level (default INFO)")
    p.add_argument("--surface", default="native", choices=["native", "tau2-retail"],
                   help="the tools served: the shop's own (native, default) or tau2-bench "
                   "retail's over a database made by mcp-shop import-tau2")
    p.add_argument("--world", default=None, metavar="KEY",
                   help="tau2-retail: the installed world to serve (its key or a prefix; "
                   "default: the only one)")
    p.set_defaults(fn=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcp-shop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_version_option(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, help_ in [("build", cmd_build, "generate the catalog and its search index"),
                            ("tour", cmd_tour, "build the catalog if needed and tour the shop")]:
        p = sub.add_parser(name, help=help_)
        add_db_option(p, note="; the catalog is built on first use")
        p.add_argument("--seed", type=bounded(0, 2**63 - 1), default=0,
                       help="catalog seed (default 0)")
        p.add_argument("--size", type=bounded(1, 5_000_000), default=10_000,
                       help="number of products (default 10000; up to 5000000)")
        p.set_defaults(fn=fn)
    _add_serve_parser(sub)
    add_import_parser(sub)
    add_prune_parser(sub)
    add_import_tau2_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ShopError, OSError) as exc:
        print_error(err, exc)
    except DBAPIError as exc:
        print_error(err, database_problem(exc, args.db))
    except KeyboardInterrupt:
        err.print("interrupted", soft_wrap=True)
        return EXIT_INTERRUPTED
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
