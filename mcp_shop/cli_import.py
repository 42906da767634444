"""``mcp-shop import``: a store's own product files into a shop catalog, then its search index.

    mcp-shop import --format amazon meta.jsonl.gz --db sqlite:///mystore.db
    mcp-shop import --format shopify products.csv --policies policies.toml --strict

Exit codes: 0 imported (bad rows skipped and reported), 1 ``--strict`` stopped at a bad row
(nothing written), 2 the import cannot run as given (unknown format, missing file, a database
that already holds a catalog without ``--replace``, an unusable policies file or database).
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

from mcp_shop.cli_support import add_db_option, print_error

__all__ = ["EXIT_BAD_ROW", "add_import_parser", "cmd_import"]

EXIT_BAD_ROW = 1
SHOWN_BAD_ROWS = 10


def add_import_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``import`` on the ``mcp-shop`` sub-command parser."""
    from mcp_shop.importers.formats import FORMATS

    formats = "; ".join(f"{name}: {what}" for name, (_, what) in sorted(FORMATS.items()))
    p = sub.add_parser(
        "import", help="import a store's product files (Shopify CSV, Google Merchant Center "
        "feed, Amazon metadata) as the catalog",
        description="Import product files into a new catalog, in one transaction, then build "
        "its search index. Titles, brands, prices, options and texts are kept; stock, ratings "
        "and final-sale marks the files lack are drawn from --seed. Formats: " + formats)
    p.add_argument("files", nargs="+", metavar="FILE", help="product files, read in order")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="the files' format")
    add_db_option(p, note="; must not hold a catalog yet (see --replace)")
    p.add_argument("--seed", type=_seed, default=0,
                   help="seed of what the files do not say (stock, ratings; default 0)")
    p.add_argument("--policies", default=None, metavar="FILE",
                   help="TOML or JSON file of per-department return terms (default: 30 days, "
                   "no fee, no final sale everywhere)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first bad row (exit 1, nothing written)")
    p.add_argument("--replace", action="store_true",
                   help="replace the catalog the database holds (its sessions are dropped too)")
    p.add_argument("--bad-rows", default=None, metavar="FILE",
                   help="write every bad row (file, line, reason) to FILE as TSV")
    p.add_argument("--no-index", action="store_true",
                   help="skip building the search index (it is built on first use then)")
    p.set_defaults(fn=cmd_import)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to {2**63 - 1:,}, got {value:,}")
    return value


def cmd_import(args: argparse.Namespace) -> int:
    from mcp_shop.cli import _progress, console, err
    from mcp_shop.db import make_engine
    from mcp_shop.importers.core import BadRowStop, check_inputs, import_catalog
    from mcp_shop.importers.policy_config import read_policy_config
    from mcp_shop.importers.records import BadRow
    from mcp_shop.shop import Shop, default_index_dir

    config = read_policy_config(args.policies) if args.policies else None
    engine = make_engine(args.db)
    check_inputs(engine, args.format, args.files, replace=args.replace)
    started = time.perf_counter()
    with ExitStack() as stack:
        report_file: IO[str] | None = None
        if args.bad_rows:
            report_file = stack.enter_context(Path(args.bad_rows).open("w", encoding="utf-8"))
            report_file.write("file\tline\treason\n")

        def on_bad_row(row: BadRow) -> None:
            if report_file is not None:
                reason = " ".join(row.reason.split())
                report_file.write(f"{row.where.file}\t{row.where.line}\t{reason}\n")

        with _progress("Reading the files (pass 1)", "Writing the catalog (pass 2)") as (
                reading, writing):
            def progress(phase: str, done: int, total: int | None) -> None:
                if phase == "reading":
                    reading(done, done)
                else:
                    writing(done, total or done)
            try:
                report = import_catalog(engine, args.format, args.files, seed=args.seed,
                                        policies=config, strict=args.strict,
                                        replace=args.replace, progress=progress,
                                        on_bad_row=on_bad_row)
            except BadRowStop as exc:
                print_error(err, exc)
                return EXIT_BAD_ROW
    info = report.info
    console.print(f"Imported {info.product_count:,} products, {info.variant_count:,} variants, "
                  f"{info.category_count:,} categories from {len(args.files)} file(s) in "
                  f"{report.seconds:.1f} s: catalog {info.fingerprint[:12]} in {args.db}",
                  soft_wrap=True)
    if report.bad_count:
        console.print(f"{report.bad_count:,} bad row(s) skipped"
                      + (f" (all in {args.bad_rows})" if args.bad_rows else "")
                      + f"; the first {min(SHOWN_BAD_ROWS, report.bad_count)}:", soft_wrap=True)
        for row in report.bad_rows[:SHOWN_BAD_ROWS]:
            console.print(f"  {row.where}: {row.reason}", soft_wrap=True, markup=False)
    if not args.no_index:
        with _progress("Building the search index") as (index_progress,):
            where = default_index_dir(args.db)
            Shop(engine, index_dir=where, index_progress=index_progress)
        err.print(f"Done in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return 0
