"""Episodes across worker processes: one process per core, each with its own shop connection,
in-memory MCP server and event loop, all on one database.

An episode spends most of its time in Python (the MCP dispatch, the shopper, the verifiers), so
within one process concurrency overlaps only the waiting; worker processes use every core. The
records come back in task order, exactly as a single process would produce them.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import anyio

from verifiers.types import TaskSpec

__all__ = ["WorkerPool", "run_in_workers"]

_SHOP: Any = None
_REPHRASER: Any = None


def _init(db: str, catalog_seed: int, catalog_size: int,
          rephrase: dict[str, Any] | None, private_dir: str | None) -> None:
    global _SHOP, _REPHRASER
    # Ctrl-C reaches the whole process group: the parent handles it (it stops the workers),
    # so a worker does not die mid-batch with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from mcp_shop import Shop
    from mcp_shop.db import sqlite_path
    from mcp_shop.shop import default_index_dir

    path = sqlite_path(db)
    if private_dir is not None and path is not None:
        # SQLite lets one process write at a time, and every episode writes (sessions, trace):
        # each worker plays its episodes in a private copy of the database (the catalog is
        # immutable; the sessions are the run's own), sharing the original's search index.
        # The copies live in a directory the parent removes when the pool closes (workers
        # end with os._exit, which runs no clean-up of their own).
        import sqlite3

        copy = Path(private_dir) / f"worker-{os.getpid()}.db"
        with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        _SHOP = Shop.open(f"sqlite:///{copy}", seed=catalog_seed, size=catalog_size,
                          index_dir=default_index_dir(db))
    else:
        _SHOP = Shop.open(db, seed=catalog_seed, size=catalog_size)
    if rephrase is not None:
        from episodes.rephrase import ChatRephraser

        _REPHRASER = ChatRephraser(**rephrase)


def _run_batch(agent_name: str, tasks: list[dict[str, Any]], trials: int, concurrency: int,
               reward_mode: str) -> list[dict[str, Any]]:
    from episodes.agents import make_agent
    from episodes.controller import EpisodeController

    specs = [TaskSpec.model_validate(t) for t in tasks]

    async def go() -> list[dict[str, Any]]:
        async with EpisodeController(_SHOP, reward_mode=reward_mode,  # type: ignore[arg-type]
                                     rephraser=_REPHRASER) as controller:
            return await controller.run(make_agent(agent_name), specs, trials=trials,
                                        concurrency=concurrency)

    return anyio.run(go)


def _batches(tasks: Sequence[TaskSpec], size: int) -> Iterator[list[TaskSpec]]:
    for i in range(0, len(tasks), size):
        yield list(tasks[i:i + size])


class WorkerPool:
    """Worker processes with the shop open, reusable across runs (``with WorkerPool(...)``)."""

    def __init__(self, db: str, *, workers: int, catalog_seed: int = 0,
                 catalog_size: int = 10_000, rephrase: dict[str, Any] | None = None,
                 private_sqlite: bool = True) -> None:
        """``rephrase``: ``ChatRephraser`` options (base_url, model) for every worker.
        ``private_sqlite``: on SQLite, each worker plays in its own copy of the database
        (writers would otherwise queue for SQLite's single write lock); the copies are deleted
        when the workers exit. PostgreSQL is shared as it is."""
        if db.startswith("sqlite") and (":memory:" in db or db.rstrip("/") == "sqlite:"):
            raise ValueError("worker processes need a database they can all open (a SQLite "
                             "file or PostgreSQL), not an in-memory one")
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        from mcp_shop.db import sqlite_path

        self._private: str | None = None
        if private_sqlite and sqlite_path(db) is not None:
            import tempfile

            self._private = tempfile.mkdtemp(prefix="shop-episodes-")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_init,
                                         initargs=(db, catalog_seed, catalog_size, rephrase,
                                                   self._private))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: drop the batches not started yet and end those
        running, after a failure or Ctrl-C) and delete the private database copies."""
        try:
            if cancel:
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        finally:
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)
                self._private = None

    def warm_up(self) -> None:
        """Start every worker (each opens the shop) before anything is timed."""
        list(self._pool.map(_ping, range(self.workers * 2)))

    def run(self, agent_name: str, tasks: Sequence[TaskSpec], *, trials: int = 1,
            concurrency: int = 4, reward_mode: str = "sparse", batch: int | None = None,
            on_done: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
        """Run ``agent_name`` on ``tasks``; ``on_done`` sees each record as its batch ends; the
        returned list is in task order. ``batch``: tasks per job (default: about a quarter of
        each worker's share, 8 to 100; each job connects a fresh client)."""
        if batch is None:
            batch = max(8, min(100, -(-len(tasks) // (self.workers * 4))))
        futures: list[Future[list[dict[str, Any]]]] = [
            self._pool.submit(_run_batch, agent_name, [t.model_dump(mode="json") for t in chunk],
                              trials, concurrency, reward_mode)
            for chunk in _batches(tasks, batch)]
        out: list[dict[str, Any]] = []
        try:
            for fut in futures:
                records = fut.result()
                out.extend(records)
                if on_done is not None:
                    for record in records:
                        on_done(record)
        except BaseException:
            for fut in futures:  # a failure (or Ctrl-C) stops the batches not started yet
                fut.cancel()
            raise
        return out


def _ping(_: int) -> bool:
    return _SHOP is not None


def run_in_workers(db: str, agent_name: str, tasks: Sequence[TaskSpec], *, workers: int,
                   catalog_seed: int = 0, catalog_size: int = 10_000, **options: Any,
                   ) -> list[dict[str, Any]]:
    """Run ``agent_name`` on ``tasks`` in ``workers`` processes over the database at ``db``
    (a SQLite file or PostgreSQL: every process opens it). See ``WorkerPool.run``."""
    with WorkerPool(db, workers=workers, catalog_seed=catalog_seed,
                    catalog_size=catalog_size) as pool:
        return pool.run(agent_name, tasks, **options)
