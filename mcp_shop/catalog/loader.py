"""Build the generated catalog into a database: fast bulk load on SQLite and PostgreSQL.

Chunks of products are generated (in worker processes for big catalogs) and written in one
transaction: ``executemany`` on SQLite, ``COPY ... FROM STDIN`` on PostgreSQL, with the product
table's secondary indexes rebuilt after the load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateIndex, DropIndex

from mcp_shop.catalog.bulk import PostgresWriter, SqliteWriter, Writer
from mcp_shop.catalog.generator import CHUNK_SIZE, categories, generate_chunk
from mcp_shop.db import backend_name, create_schema, read_tx, sqlite_path
from mcp_shop.errors import InvalidInput, InvalidState
from mcp_shop.locks import database_lock
from mcp_shop.models.catalog import CatalogInfo, Category, Product, Variant

__all__ = [
    "GENERATOR_VERSION",
    "MAX_CATALOG_SIZE",
    "Progress",
    "build_catalog",
    "catalog_fingerprint",
    "ensure_catalog",
    "load_catalog_info",
]

GENERATOR_VERSION = "2"
"""Version of the generator's output; bump it whenever a (seed, size) would give other rows."""
MAX_CATALOG_SIZE = 5_000_000
Progress = Callable[[int, int], None]
"""``progress(done, total)``: products written so far and the catalog size."""

PRODUCT_COLUMNS = ("id", "title", "brand", "category_id", "description", "attributes",
                   "option_names", "rating", "rating_count", "price_min_cents", "price_max_cents",
                   "in_stock", "final_sale")
VARIANT_COLUMNS = ("id", "product_id", "position", "sku", "options", "price_cents", "stock")
CATEGORY_COLUMNS = ("id", "slug", "name", "parent_id", "department", "path", "is_leaf", "depth",
                    "attribute_specs", "product_count")
INFO_COLUMNS = ("id", "source", "seed", "size", "generator_version", "fingerprint",
                "product_count", "variant_count", "category_count")
_POOL_THRESHOLD = 3 * CHUNK_SIZE


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def encode_chunk(seed: int, chunk: int, stop: int
                 ) -> tuple[list[Any], list[Any], dict[int, int]]:
    """One chunk as database-ready tuples (JSON as text) and its product count per category.

    Runs in worker processes; the result is the same wherever it runs.
    """
    products, variants = generate_chunk(seed, chunk, stop, encoded=True)
    return products, variants, dict(Counter(p[3] for p in products))  # p[3]: category_id


def catalog_fingerprint(seed: int, size: int) -> str:
    """The digest naming the generated catalog of ``(seed, size)`` at this generator version."""
    text = f"mcp-shop-generated|{GENERATOR_VERSION}|{seed}|{size}"
    return hashlib.sha256(text.encode()).hexdigest()


def _validate(seed: Any, size: Any) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidInput(f"catalog seed must be a non-negative integer, got {seed!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_CATALOG_SIZE:
        raise InvalidInput(
            f"catalog size must be an integer from 1 to {MAX_CATALOG_SIZE:,}, got {size!r}"
        )


def _describe(info: CatalogInfo) -> str:
    if info.source == "generated":
        return (f"a generated catalog (seed={info.seed}, size={info.size}, "
                f"generator version {info.generator_version})")
    return f"an {info.source} catalog of {info.product_count} products"


def load_catalog_info(engine: Engine) -> CatalogInfo | None:
    """The database's ``CatalogInfo`` row, or None when it holds no catalog."""
    if not inspect(engine).has_table(CatalogInfo.__tablename__):
        return None
    with read_tx(engine) as conn:
        table = CatalogInfo.__table__  # type: ignore[attr-defined]
        row = conn.execute(select(table)).mappings().first()
    return CatalogInfo(**row) if row is not None else None


def _chunks(seed: int, size: int, workers: int) -> Generator[tuple[list, list, dict[int, int]]]:
    """Encoded chunks in order, produced by ``workers`` processes (in process when 0)."""
    n = (size + CHUNK_SIZE - 1) // CHUNK_SIZE
    if workers <= 0:
        for chunk in range(n):
            yield encode_chunk(seed, chunk, size + 1)
        return
    # fork is fastest and needs no re-import, but is only safe while no other thread runs
    method = ("fork" if "fork" in multiprocessing.get_all_start_methods()
              and threading.active_count() == 1 else "spawn")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        pending: deque[Future] = deque()
        submitted = 0
        try:
            while submitted < n or pending:
                while submitted < n and len(pending) < 2 * workers + 1:
                    pending.append(pool.submit(encode_chunk, seed, submitted, size + 1))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _counts(per_leaf: Counter[int]) -> dict[int, int]:
    """Product counts of every category: leaves' own, inner nodes' summed over their subtree."""
    cats = categories()
    parent = {c.id: c.parent_id for c in cats}
    totals: Counter[int] = Counter()
    for leaf_id, count in per_leaf.items():
        node: int | None = leaf_id
        while node is not None:
            totals[node] += count
            node = parent[node]
    return {c.id: totals.get(c.id, 0) for c in cats}


def _index_ddl(engine: Engine) -> tuple[list[str], list[str]]:
    """DDL to drop the product table's secondary indexes before the load and rebuild them after.

    Their keys (brand, category) arrive in random order, so one sort afterwards beats
    maintaining them row by row. The variant table's index on ``product_id`` is kept: variants
    arrive in product order, so it only ever grows at its right edge.
    """
    indexes = list(Product.__table__.indexes)  # type: ignore[attr-defined]
    drops = [str(DropIndex(ix).compile(dialect=engine.dialect)) for ix in indexes]
    creates = [str(CreateIndex(ix).compile(dialect=engine.dialect)) for ix in indexes]
    return drops, creates


def _create_schema(engine: Engine) -> None:
    """``create_schema``, retried: processes starting on a fresh database race to create it."""
    for attempt in range(6):
        try:
            create_schema(engine)
            return
        except DBAPIError:  # 'database is locked' / duplicate type: another creator won
            if attempt == 5:
                raise
            time.sleep(0.05 * 2**attempt)


def _check_empty(writer: Writer) -> None:
    existing = writer.query_one(f"SELECT {', '.join(INFO_COLUMNS)} FROM catalog_info")
    if existing is not None:
        info = CatalogInfo(**dict(zip(INFO_COLUMNS, existing, strict=True)))
        raise InvalidState(
            f"this database already holds {_describe(info)}; a catalog is immutable once built. "
            "Use ensure_catalog to reuse it, or build into a new database (or schema).",
            fingerprint=info.fingerprint,
        )
    if writer.query_one("SELECT id FROM product LIMIT 1") is not None:
        raise InvalidState(
            "this database holds products but no catalog_info row (a partial or foreign "
            "catalog); build into a new database (or schema)."
        )


def build_catalog(engine: Engine, *, seed: int, size: int, progress: Progress | None = None,
                  workers: int | None = None) -> CatalogInfo:
    """Generate the catalog of ``(seed, size)`` and write it into an empty database.

    Args:
        engine: a SQLite or PostgreSQL engine from :func:`mcp_shop.db.make_engine`.
        seed: non-negative generator seed.
        size: number of products, 1 to 5,000,000.
        progress: called as ``progress(done, size)`` after each chunk of products is written.
        workers: generator processes beside this one, which writes (default: one less than
            the CPUs, at most 2, and none for catalogs of a few chunks); the catalog is
            identical whatever the number.

    Raises:
        InvalidInput: bad seed or size.
        InvalidState: the database already holds a catalog.
    """
    _validate(seed, size)
    if workers is None:
        workers = 0 if size <= _POOL_THRESHOLD else max(0, min(2, (os.cpu_count() or 1) - 1))
    _create_schema(engine)
    drops, creates = _index_ddl(engine)
    writer: Writer = (SqliteWriter(engine) if backend_name(engine) == "sqlite"
                      else PostgresWriter(engine))
    per_leaf: Counter[int] = Counter()
    variant_count = 0
    with writer:
        _check_empty(writer)
        for ddl in drops:
            writer.execute(ddl)
        if progress is not None:
            progress(0, size)
        done = 0
        with contextlib.closing(_chunks(seed, size, workers)) as chunks:  # stops the workers
            for prows, vrows, counts in chunks:
                writer.copy(Product.__tablename__, PRODUCT_COLUMNS, prows)
                writer.copy(Variant.__tablename__, VARIANT_COLUMNS, vrows)
                per_leaf.update(counts)
                variant_count += len(vrows)
                done += len(prows)
                if progress is not None:
                    progress(done, size)
        totals = _counts(per_leaf)
        cats = categories()
        writer.insert(Category.__tablename__, CATEGORY_COLUMNS, [
            tuple(_json(v) if k == "attribute_specs" else v for k, v in
                  c.row(totals[c.id]).items()) for c in cats
        ])
        info = CatalogInfo(id=1, source="generated", seed=seed, size=size,
                           generator_version=GENERATOR_VERSION,
                           fingerprint=catalog_fingerprint(seed, size), product_count=done,
                           variant_count=variant_count, category_count=len(cats))
        writer.insert(CatalogInfo.__tablename__, INFO_COLUMNS,
                      [tuple(getattr(info, k) for k in INFO_COLUMNS)])
        for ddl in creates:
            writer.execute(ddl)
        writer.analyze((Category.__tablename__, Product.__tablename__, Variant.__tablename__))
    return info


def ensure_catalog(engine: Engine, *, seed: int, size: int, progress: Progress | None = None,
                   workers: int | None = None) -> CatalogInfo:
    """The database's catalog if it is the one of ``(seed, size)``; build it if there is none.

    An imported catalog (``mcp-shop import``) is returned as it is, whatever the seed and size:
    it is never regenerated over.

    Raises:
        InvalidInput: bad seed or size.
        InvalidState: the database holds a different catalog (the message says which).
    """
    _validate(seed, size)
    info = load_catalog_info(engine)
    if info is not None:  # made by an earlier version? its tables brought up to date
        _create_schema(engine)
    if info is None:
        # One process builds a SQLite file's catalog; the others wait for it and use it
        with database_lock(sqlite_path(engine.url)):
            info = load_catalog_info(engine)
            if info is None:
                try:
                    return build_catalog(engine, seed=seed, size=size, progress=progress,
                                         workers=workers)
                except InvalidState:
                    info = load_catalog_info(engine)  # built by another process (PostgreSQL)?
                    if info is None:
                        raise
    if (info.source == "generated" and info.seed == seed and info.size == size
            and info.generator_version == GENERATOR_VERSION):
        return info
    if info.source == "imported":  # a store's own catalog (mcp-shop import): used as it is
        return info
    raise InvalidState(
        f"this database holds {_describe(info)}, but a generated catalog with seed={seed}, "
        f"size={size} (generator version {GENERATOR_VERSION}) was asked for. Use a new "
        "database (or schema) for a different catalog, or ask for the one it holds.",
        fingerprint=info.fingerprint,
    )
