"""The import: source records in, one catalog out, in one transaction.

Pass 1 reads every file once and keeps in memory only the category tree and per-category
attribute statistics (bounded by the taxonomy, not by the number of products); it reports bad
rows and spills the usable products to a temporary file. Pass 2 reads that file back and
streams the product and variant rows through the bulk writers of the generated catalog
(``executemany`` on SQLite, ``COPY`` on PostgreSQL), then writes the categories, the policies
and the ``catalog_info`` row, all in one transaction: a failed import leaves the database as
it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import SQLModel

from mcp_shop.catalog.bulk import PostgresWriter, SqliteWriter, Writer
from mcp_shop.catalog.loader import (
    CATEGORY_COLUMNS,
    INFO_COLUMNS,
    MAX_CATALOG_SIZE,
    _create_schema,
    _index_ddl,
    load_catalog_info,
)
from mcp_shop.db import backend_name
from mcp_shop.importers.catalog_tree import Layout, layout
from mcp_shop.importers.formats import Reader, reader
from mcp_shop.importers.parse import ImportFailed, Parsed, parse
from mcp_shop.importers.policy_config import PolicyConfig, build_policies
from mcp_shop.importers.records import BadRow, Where
from mcp_shop.importers.rows import Prepared
from mcp_shop.importers.stats import Tree
from mcp_shop.importers.text import clean_text
from mcp_shop.importers.write import Plan, Spill, write_rows
from mcp_shop.models import CatalogInfo, CatalogPolicies, Category, Product, Variant
from mcp_shop.policies import Policies
from mcp_shop.shop_policies import forget_policies

__all__ = ["IMPORT_VERSION", "BadRowStop", "ImportFailed", "ImportProgress", "ImportReport",
           "check_inputs", "import_catalog"]

IMPORT_VERSION = "1"
"""Version of the import's output; bump it whenever the same files and seed would give other
rows (it enters the fingerprint)."""
ImportProgress = Callable[[str, int, "int | None"], None]
"""``progress(phase, done, total)``: phase 'reading' (pass 1, total None) or 'writing'."""
MAX_REPORTED = 100


class BadRowStop(ImportFailed):
    """``strict`` and a bad row: the import stopped at it."""


@dataclass
class ImportReport:
    """What an import did: the catalog it wrote and the rows it skipped."""

    info: CatalogInfo
    policies: Policies
    bad_rows: list[BadRow] = field(default_factory=list)  # the first MAX_REPORTED
    bad_count: int = 0
    seconds: float = 0.0


class _Bad:
    """Bad rows: counted, the first ``MAX_REPORTED`` kept, or an ``ImportFailed`` at the first
    one under ``strict``."""

    def __init__(self, strict: bool, listener: Callable[[BadRow], None] | None) -> None:
        self.strict = strict
        self.listener = listener
        self.rows: list[BadRow] = []
        self.count = 0

    def __call__(self, row: BadRow) -> None:
        row = BadRow(Where(clean_text(str(row.where.file)), row.where.line),
                     clean_text(str(row.reason)))
        if self.strict:
            raise BadRowStop(f"bad row at {row.where}: {row.reason} (--strict stops at the "
                               "first bad row; nothing was written)", where=str(row.where))
        self.count += 1
        if self.listener is not None:
            self.listener(row)
        if len(self.rows) < MAX_REPORTED:
            self.rows.append(row)


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"),
                                          digest_size=8).digest(), "big")


def _accepted(items: Iterator[Parsed], bad: _Bad
              ) -> Iterator[tuple[tuple[str, ...], Prepared]]:
    """The usable products (cleaned category path, prepared product), in order, each key once
    (a repeated key is a bad row); bad rows go to ``bad``."""
    seen: set[int] = set()
    for item in items:
        if isinstance(item, BadRow):
            bad(item)
            continue
        where, key, path, prep, problems = item
        for problem in problems:
            bad(BadRow(where, problem))
        if prep is None:
            continue
        h = _key_hash(key)
        if h in seen:
            bad(BadRow(where, f"product key {key!r} appears again (an earlier record has it); "
                              "skipped"))
            continue
        seen.add(h)
        yield path, prep


def _survey(items: Iterator[Parsed], bad: _Bad, spill: Spill,
            progress: ImportProgress | None) -> tuple[Tree, int]:
    """Pass 1: the category tree with attribute statistics and the number of products; the
    products themselves go to ``spill``."""
    tree = Tree()
    n = 0
    for path, prep in _accepted(items, bad):
        if n >= MAX_CATALOG_SIZE:
            raise ImportFailed(f"more than {MAX_CATALOG_SIZE:,} products, the most a catalog "
                               "holds; import a part of the files")
        tree.add(path, prep.attributes)
        spill.add(path, prep)
        n += 1
        if progress is not None and n % 5000 == 0:
            progress("reading", n, None)
    if progress is not None:
        progress("reading", n, None)
    return tree, n


def _check_target(writer: Writer, replace: bool) -> None:
    existing = writer.query_one(f"SELECT {', '.join(INFO_COLUMNS)} FROM catalog_info")
    has_products = writer.query_one("SELECT id FROM product LIMIT 1") is not None
    if replace:
        for table in reversed(SQLModel.metadata.sorted_tables):
            writer.execute(f'DELETE FROM "{table.name}"')
        return
    if existing is not None or has_products:
        what = "a catalog"
        if existing is not None:
            info = CatalogInfo(**dict(zip(INFO_COLUMNS, existing, strict=True)))
            what = (f"{_article(info.source)} {info.source} catalog of "
                    f"{info.product_count:,} products")
        raise ImportFailed(f"this database already holds {what}; import into a new database, "
                           "or pass --replace to drop it (and every session of it) and import "
                           "in its place")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def check_inputs(engine: Engine, fmt: str | Reader, paths: list[str], *,
                 replace: bool = False) -> Reader:
    """The reader of ``fmt`` once the files exist and the database may take a catalog (checked
    again in the import's transaction); ``ImportFailed`` / ``InvalidInput`` otherwise, before
    any file is read."""
    read = reader(fmt) if isinstance(fmt, str) else fmt
    if not paths:
        raise ImportFailed("no files to import: name at least one")
    for path in paths:
        if not os.path.isfile(path):
            raise ImportFailed(f"{path!r} is not a file: name an existing product file",
                               file=path)
    info = None if replace else load_catalog_info(engine)
    if info is not None:
        raise ImportFailed(f"this database already holds {_article(info.source)} {info.source} "
                           f"catalog of {info.product_count:,} products; import into a new "
                           "database, or pass --replace to drop it (and every session of it) "
                           "and import in its place")
    return read


def _totals(lay: Layout, per_leaf: Counter[int]) -> dict[int, int]:
    parent = {c.id: c.parent_id for c in lay.categories}
    totals: Counter[int] = Counter()
    for leaf, count in per_leaf.items():
        node: int | None = leaf
        while node is not None:
            totals[node] += count
            node = parent[node]
    return totals


def import_catalog(engine: Engine, fmt: str | Reader, paths: Iterable[str], *, seed: int = 0,
                   policies: PolicyConfig | None = None, strict: bool = False,
                   replace: bool = False, progress: ImportProgress | None = None,
                   on_bad_row: Callable[[BadRow], None] | None = None,
                   child: bool | None = None, workers: int | None = None) -> ImportReport:
    """Import the product files ``paths`` of format ``fmt`` into the database of ``engine``.

    Args:
        fmt: a format name of :data:`mcp_shop.importers.formats.FORMATS` or a reader function.
        seed: seeds what the source does not say (stock, ratings, final-sale marks).
        policies: per-department return terms (default: 30 days, no fee, no final sale).
        strict: stop at the first bad row (``ImportFailed``) instead of skipping it.
        replace: empty every shop table (the catalog and its sessions) in the same
            transaction instead of refusing a database that holds a catalog.
        progress: called as ``progress(phase, done, total)``.
        on_bad_row: called with every bad row (the report keeps the first 100).
        child: parse in a child process (default: for inputs over 32 MB read by format
            name); the catalog is the same either way.
        workers: processes encoding rows in pass 2 (default: none under 50,000 products,
            else up to two); the catalog is the same whatever the number.

    Raises:
        BadRowStop: a bad row under ``strict`` (an ``ImportFailed``).
        ImportFailed: no usable product, an unreadable file, a
            database that already holds a catalog (without ``replace``), or a policies file
            naming an unknown department. The database is then unchanged.
    """
    started = time.perf_counter()
    paths = [str(p) for p in paths]
    check_inputs(engine, fmt, paths, replace=replace)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ImportFailed(f"the seed must be a non-negative integer, got {seed!r}")
    bad = _Bad(strict, on_bad_row)
    with contextlib.closing(Spill()) as spill:
        with contextlib.closing(parse(fmt, paths, child)) as items:
            tree, expected = _survey(items, bad, spill, progress)
        return _import(engine, paths, tree, expected, spill, bad, seed=seed, policies=policies,
                       replace=replace, progress=progress, started=started, workers=workers)


def _import(engine: Engine, paths: list[str], tree: Tree, expected: int, spill: Spill,
            bad: _Bad, *, seed: int, policies: PolicyConfig | None, replace: bool,
            progress: ImportProgress | None, started: float,
            workers: int | None) -> ImportReport:
    """Pass 2 and the rest, once pass 1 has read the files."""
    if expected == 0:
        first = f"; first: {bad.rows[0].where}: {bad.rows[0].reason}" if bad.rows else ""
        raise ImportFailed(f"no usable product in {', '.join(paths)} ({bad.count:,} bad "
                           f"rows{first})")
    lay = layout(tree)
    del tree
    catalog_policies, shares = build_policies(policies, lay.departments)
    policies_json = json.dumps(catalog_policies.model_dump(mode="json"), separators=(",", ":"),
                               sort_keys=True)
    _create_schema(engine)
    drops, creates = _index_ddl(engine)
    writer: Writer = (SqliteWriter(engine) if backend_name(engine) == "sqlite"
                      else PostgresWriter(engine))
    with writer:
        _check_target(writer, replace)
        for ddl in drops:
            writer.execute(ddl)
        plan = Plan(lay.leaf_of, lay.specs, lay.department_of, shares, seed)
        count, variants, per_leaf, rows_digest = write_rows(writer, spill, plan, expected,
                                                            progress, workers)
        totals = _totals(lay, per_leaf)
        cat_rows = [c.row(totals.get(c.id, 0)) for c in lay.categories]
        writer.insert(Category.__tablename__, CATEGORY_COLUMNS, cat_rows)
        fingerprint = hashlib.sha256(
            f"mcp-shop-imported|{IMPORT_VERSION}|{seed}|{rows_digest}|{cat_rows!r}|"
            f"{policies_json}".encode("utf-8", "surrogatepass")).hexdigest()
        info = CatalogInfo(id=1, source="imported", seed=seed, size=count,
                           generator_version=f"import-{IMPORT_VERSION}", fingerprint=fingerprint,
                           product_count=count, variant_count=variants,
                           category_count=len(cat_rows))
        writer.insert(CatalogInfo.__tablename__, INFO_COLUMNS,
                      [tuple(getattr(info, k) for k in INFO_COLUMNS)])
        writer.insert(CatalogPolicies.__tablename__, ("id", "policies"), [(1, policies_json)])
        for ddl in creates:
            writer.execute(ddl)
        writer.analyze((Category.__tablename__, Product.__tablename__, Variant.__tablename__))
    forget_policies(engine)
    return ImportReport(info=info, policies=catalog_policies, bad_rows=bad.rows,
                        bad_count=bad.count, seconds=time.perf_counter() - started)

