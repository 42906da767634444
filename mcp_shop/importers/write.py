"""Pass 2 of an import: the products spilled by pass 1 encoded into rows and written in order.

Big imports encode in worker processes (each gets a pickled batch of the spill file as it is
stored, and gives back database-ready rows and the batch's digest) while this process writes;
small ones encode here. The rows, their order and the digest are the same either way.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import pickle
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from mcp_shop.catalog.bulk import Writer
from mcp_shop.catalog.loader import PRODUCT_COLUMNS, VARIANT_COLUMNS
from mcp_shop.importers.rows import Prepared, encode
from mcp_shop.models import Product, Variant

__all__ = ["BATCH", "POOL_THRESHOLD", "Plan", "Spill", "encode_batch", "write_rows"]

BATCH = 1000  # products per spilled batch (and per write)
POOL_THRESHOLD = 50_000  # products from which worker processes encode


class Spill:
    """The prepared products of pass 1, kept for pass 2 in a temporary file as pickled batches
    of plain tuples: the files are read and parsed once, and memory stays flat."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile(prefix="mcp-shop-import-")  # noqa: SIM115
        self._batch: list[tuple[tuple[str, ...], tuple]] = []
        self._sizes: list[tuple[int, int]] = []  # (bytes, products) of each stored batch

    def add(self, path: tuple[str, ...], prep: Prepared) -> None:
        self._batch.append((path, tuple(prep)))
        if len(self._batch) >= BATCH:
            self._store()

    def _store(self) -> None:
        data = pickle.dumps(self._batch, protocol=pickle.HIGHEST_PROTOCOL)
        self._fh.write(data)
        self._sizes.append((len(data), len(self._batch)))
        self._batch = []

    def batches(self) -> Iterator[tuple[bytes, int]]:
        """Every stored batch as its pickled bytes and its number of products, in order."""
        if self._batch:
            self._store()
        self._fh.seek(0)
        for size, count in self._sizes:
            yield self._fh.read(size), count

    def close(self) -> None:
        self._fh.close()


@dataclass(frozen=True)
class Plan:
    """What encoding needs besides the products: leaves, their specs, departments, seed."""

    leaf_of: dict[tuple[str, ...], int]
    specs: dict[int, dict[str, dict[str, Any]]]
    department_of: dict[int, str]
    shares: dict[str, float]
    seed: int


_PLAN: Plan | None = None  # a worker's plan (set by its initializer)


def _init(plan: Plan) -> None:
    global _PLAN
    _PLAN = plan


def encode_batch(start: int, data: bytes, plan: Plan | None = None
                 ) -> tuple[list[tuple], list[tuple], dict[int, int], bytes]:
    """The rows of one spilled batch whose first product gets key ``start``: product rows,
    variant rows, products per leaf, and the digest of the rows."""
    plan = plan or _PLAN
    assert plan is not None
    digest = hashlib.sha256()
    prows: list[tuple] = []
    vrows: list[tuple] = []
    per_leaf: Counter[int] = Counter()
    for offset, (path, fields) in enumerate(pickle.loads(data)):
        leaf = plan.leaf_of[path]
        prow, vs = encode(Prepared._make(fields), start + offset, leaf, plan.specs[leaf],
                          plan.seed, plan.shares.get(plan.department_of[leaf], 0.0))
        digest.update("\x1e".join(["\x1f".join(map(str, r)) for r in (prow, *vs)])
                      .encode("utf-8", "surrogatepass") + b"\x1d")
        per_leaf[leaf] += 1
        prows.append(prow)
        vrows.extend(vs)
    return prows, vrows, dict(per_leaf), digest.digest()


def _encoded(spill: Spill, plan: Plan, workers: int
             ) -> Generator[tuple[list[tuple], list[tuple], dict[int, int], bytes]]:
    """Encoded batches in order, by ``workers`` processes (here when 0)."""
    start = 1
    if workers <= 0:
        for data, count in spill.batches():
            yield encode_batch(start, data, plan)
            start += count
        return
    # fork is fastest and needs no re-import, but is only safe while no other thread runs
    method = ("fork" if "fork" in multiprocessing.get_all_start_methods()
              and threading.active_count() == 1 else "spawn")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                             initializer=_init, initargs=(plan,)) as pool:
        pending: deque[Future] = deque()
        batches = spill.batches()
        try:
            for data, count in batches:
                pending.append(pool.submit(encode_batch, start, data))
                start += count
                if len(pending) > 2 * workers + 1:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def write_rows(writer: Writer, spill: Spill, plan: Plan, expected: int,
               progress: Callable[[str, int, int | None], None] | None = None,
               workers: int | None = None) -> tuple[int, int, Counter[int], str]:
    """Pass 2: every spilled product as product and variant rows through ``writer``.

    Returns the number of products and variants, the products per leaf and the digest of
    all rows (over the batches' digests, in order).
    """
    if workers is None:
        workers = 0 if expected < POOL_THRESHOLD else max(1, min(2, os.cpu_count() or 1))
    digest = hashlib.sha256()
    per_leaf: Counter[int] = Counter()
    count = variants = 0
    with contextlib.closing(_encoded(spill, plan, workers)) as batches:  # stops the workers
        for prows, vrows, leaves, part in batches:
            writer.copy(Product.__tablename__, PRODUCT_COLUMNS, prows)
            writer.copy(Variant.__tablename__, VARIANT_COLUMNS, vrows)
            digest.update(part)
            per_leaf.update(leaves)
            count += len(prows)
            variants += len(vrows)
            if progress is not None:
                progress("writing", count, expected)
    assert count == expected, (count, expected)
    return count, variants, per_leaf, digest.hexdigest()
