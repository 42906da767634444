"""Episodes across worker processes: one process per core, each with its own shop connection,
in-memory MCP server and event loop, all on one database.

An episode spends most of its time in Python (the MCP dispatch, the shopper, the verifiers), so
within one process concurrency overlaps only the waiting; worker processes use every core. The
records come back in task order, exactly as a single process would produce them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from mcp_shop.errors import InvalidState
from verifiers.types import TaskSpec

__all__ = ["BatchWorker", "CatalogMismatch", "RunnerSpec", "ShopSpec", "WorkerPool",
           "WorkerShop", "batches", "default_batch", "fill_lock", "private_copy", "remove_copy",
           "run_in_workers"]

_WORKER: Any = None


@dataclasses.dataclass(frozen=True)
class RunnerSpec:
    """What each worker opens once (in its process, or as a Ray worker) and plays batches on:
    ``open(private_dir)`` gives an object with ``run_batch(agent_name, tasks, trials,
    concurrency, reward_mode)`` (``tasks`` as ``dump`` made them) and ``close()``. ``db``: the
    database every worker opens."""

    db: str

    def open(self, private_dir: str | None) -> Any:
        raise NotImplementedError

    def dump(self, task: Any) -> dict[str, Any]:
        """``task`` as JSON, as the workers' ``run_batch`` reads it."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class ShopSpec(RunnerSpec):
    """The shop's own tasks: a ``WorkerShop`` on ``db`` (see there for the options)."""

    catalog_seed: int = 0
    catalog_size: int = 10_000
    rephrase: dict[str, Any] | None = None
    fingerprint: str | None = None
    controller: dict[str, Any] | None = None

    def open(self, private_dir: str | None) -> WorkerShop:
        return WorkerShop(self.db, catalog_seed=self.catalog_seed,
                          catalog_size=self.catalog_size, rephrase=self.rephrase,
                          private_dir=private_dir, fingerprint=self.fingerprint,
                          controller=self.controller)

    def dump(self, task: Any) -> dict[str, Any]:
        return dict(task.model_dump(mode="json"))


def private_copy(db: str, private_dir: str | None) -> Path | None:
    """On SQLite with a ``private_dir``: a copy of ``db``'s file made there for this process
    (SQLite lets one process write at a time, and every episode writes its session and
    trace), or None (PostgreSQL is shared as it is). ``remove_copy`` deletes it."""
    from mcp_shop.db import sqlite_path

    path = sqlite_path(db)
    if private_dir is None or path is None:
        return None
    import sqlite3

    Path(private_dir).mkdir(parents=True, exist_ok=True)
    copy = Path(private_dir) / f"worker-{os.getpid()}.db"
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    return copy


def remove_copy(copy: Path | None) -> None:
    """Delete a ``private_copy`` with its WAL files."""
    if copy is not None:
        for f in copy.parent.glob(copy.name + "*"):
            f.unlink(missing_ok=True)


class BatchWorker:
    """A worker's event loop (in a daemon thread) and the async context managers (a
    controller, a runner: opening one costs about as much as a few episodes) it keeps open
    there for every batch, by key."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self.portal: Any = None
        self.kept: dict[Any, tuple[Any, Any]] = {}  # key -> (context, what it entered)

    def _portal(self) -> Any:
        if self.portal is None:
            self.portal = self._stack.enter_context(start_blocking_portal())
        return self.portal

    def play(self, key: Any, make: Callable[[], Any],
             run: Callable[[Any], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
        """``run(it)`` on the loop, ``it`` the context ``make()`` gives entered once for
        ``key``; a failed run drops it (it may be left half-used: the next one anew)."""
        if key not in self.kept:
            cm = self._portal().wrap_async_context_manager(make())
            self.kept[key] = (cm, cm.__enter__())
        try:
            return list(self._portal().call(run, self.kept[key][1]))
        except BaseException:
            self._drop(key)
            raise

    def _drop(self, key: Any) -> None:
        cm, _ = self.kept.pop(key, (None, None))
        if cm is not None:
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)

    def close_loop(self) -> None:
        """Leave what is kept, then stop the loop."""
        for key in list(self.kept):
            self._drop(key)
        self._stack.close()
        self.portal = None


class WorkerShop(BatchWorker):
    """One worker's shop and the batches it plays: what a worker process of ``WorkerPool`` and
    a Ray worker (``episodes.ray_rollouts``) each open once and keep (``ShopSpec``).

    ``private_dir``: on SQLite, play in a private copy of the database made there
    (``private_copy``; the catalog is immutable, the sessions are the run's own), sharing the
    original's search index. The catalog is opened (generated on first use,
    deterministically from ``catalog_seed`` and ``catalog_size``, under a lock so the workers
    of one machine build it once) where ``db`` points on this machine; ``fingerprint``: the
    catalog it must hold (the driver's). ``controller``: more ``EpisodeController`` options
    for every batch (e.g. ``connect``)."""

    def __init__(self, db: str, *, catalog_seed: int, catalog_size: int,
                 rephrase: dict[str, Any] | None = None, private_dir: str | None = None,
                 fingerprint: str | None = None, controller: dict[str, Any] | None = None,
                 ) -> None:
        from mcp_shop import Shop
        from mcp_shop.shop import default_index_dir

        super().__init__()
        _check_catalog(db, catalog_seed, catalog_size, fingerprint)
        self.copy = private_copy(db, private_dir)
        if self.copy is not None:
            self.shop = Shop.open(f"sqlite:///{self.copy}", seed=catalog_seed,
                                  size=catalog_size, index_dir=default_index_dir(db))
        else:
            self.shop = Shop.open(db, seed=catalog_seed, size=catalog_size)
        self.controller_options = controller or {}
        self.rephraser: Any = None
        if rephrase is not None:
            from episodes.rephrase import ChatRephraser

            self.rephraser = ChatRephraser(**rephrase)

    def run_batch(self, agent_name: str, tasks: list[dict[str, Any]], trials: int,
                  concurrency: int, reward_mode: str) -> list[dict[str, Any]]:
        """The records of ``agent_name`` on ``tasks`` (``TaskSpec`` as JSON), in task order,
        played ``concurrency`` at a time over this worker's in-memory server (its controller
        for ``reward_mode``, opened once)."""
        from episodes.agents import make_agent
        from episodes.controller import EpisodeController

        specs = [TaskSpec.model_validate(t) for t in tasks]
        agent = make_agent(agent_name)
        make = partial(EpisodeController, self.shop,
                       reward_mode=reward_mode,  # type: ignore[arg-type]
                       rephraser=self.rephraser, **self.controller_options)
        return self.play(reward_mode, make,
                         partial(_run_controller, agent, specs, trials, concurrency))

    def close(self) -> None:
        """Close the controllers, the event loop and the shop's connections; delete the
        private copy (with its WAL files)."""
        self.close_loop()
        self.shop.engine.dispose()
        remove_copy(self.copy)
        self.copy = None


async def _run_controller(agent: Any, specs: list[TaskSpec], trials: int, concurrency: int,
                          controller: Any) -> list[dict[str, Any]]:
    return list(await controller.run(agent, specs, trials=trials, concurrency=concurrency))


@contextlib.contextmanager
def fill_lock(db: str) -> Iterator[None]:
    """Held by one process at a time per ``db`` while it fills a database missing there (the
    catalog, a tau2 world): for a SQLite file, the database's own lock beside it
    (``mcp_shop.locks.database_lock``; its directory made first), which orders every process
    on that disk, of one machine or of several; for PostgreSQL, whose own locks keep the
    database whole, a lock of this machine's, so its workers do not fill it side by side."""
    from mcp_shop.db import sqlite_path
    from mcp_shop.locks import database_lock, file_lock

    path = sqlite_path(db)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with database_lock(path):
            yield
        return
    digest = hashlib.sha256(db.encode()).hexdigest()[:16]
    with file_lock(Path(tempfile.gettempdir()) / f"mcp-shop-catalog-{digest}.lock"):
        yield


def _check_catalog(db: str, seed: int, size: int, fingerprint: str | None) -> None:
    """Generate the catalog at ``db`` if it has none (once per machine: under a lock), and
    check it is the one of ``fingerprint``."""
    from mcp_shop.catalog import ensure_catalog
    from mcp_shop.db import make_engine

    with fill_lock(db):
        engine = make_engine(db)
        try:
            info = ensure_catalog(engine, seed=seed, size=size)
        finally:
            engine.dispose()
    if fingerprint is not None and info.fingerprint != fingerprint:
        import socket

        raise CatalogMismatch(
            f"the catalog at {db} on {socket.gethostname()} is {info.fingerprint[:12]}, not "
            f"the run's {fingerprint[:12]}: copy the run's database file there (an imported "
            "catalog), or remove it so it is generated from --catalog-seed and --catalog-size",
            db=db, fingerprint=info.fingerprint, expected=fingerprint)


class CatalogMismatch(InvalidState):
    """A worker's machine holds another catalog than the run's at the database's path."""


def _init(spec: RunnerSpec, private_dir: str | None) -> None:
    global _WORKER
    # Ctrl-C reaches the whole process group: the parent handles it (it stops the workers),
    # so a worker does not die mid-batch with a traceback of its own. The private copies
    # live in a directory the parent removes when the pool closes (workers end with
    # os._exit, which runs no clean-up of their own).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER = spec.open(private_dir)


def _run_batch(agent_name: str, tasks: list[dict[str, Any]], trials: int, concurrency: int,
               reward_mode: str) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return list(_WORKER.run_batch(agent_name, tasks, trials, concurrency, reward_mode))


def default_batch(tasks: int, workers: int, trials: int = 1) -> int:
    """Tasks per job: about a quarter of each worker's share, 8 to 100 episodes (a task is
    ``trials`` episodes; at least one task)."""
    share = -(-tasks // (workers * 4))
    return max(-(-8 // trials), min(max(1, 100 // trials), share))


def batches(tasks: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(tasks), size):
        yield list(tasks[i:i + size])


class WorkerPool:
    """Worker processes with the shop open, reusable across runs (``with WorkerPool(...)``)."""

    def __init__(self, db: str | None = None, *, workers: int, catalog_seed: int = 0,
                 catalog_size: int = 10_000, rephrase: dict[str, Any] | None = None,
                 private_sqlite: bool = True, controller: dict[str, Any] | None = None,
                 spec: RunnerSpec | None = None) -> None:
        """The shop's own tasks on ``db`` (a ``ShopSpec``): ``rephrase``: ``ChatRephraser``
        options (base_url, model) for every worker; ``controller``: more
        ``EpisodeController`` options for every worker. Or what ``spec`` names (then ``db``
        and those options are not given).
        ``private_sqlite``: on SQLite, each worker plays in its own copy of the database
        (writers would otherwise queue for SQLite's single write lock); the copies are deleted
        when the workers exit. PostgreSQL is shared as it is."""
        if spec is None:
            if db is None:
                raise ValueError("WorkerPool needs a database (db) or a runner spec (spec)")
            spec = ShopSpec(db, catalog_seed=catalog_seed, catalog_size=catalog_size,
                            rephrase=rephrase, controller=controller)
        db = spec.db
        if db.startswith("sqlite") and (":memory:" in db or db.rstrip("/") == "sqlite:"):
            raise ValueError("worker processes need a database they can all open (a SQLite "
                             "file or PostgreSQL), not an in-memory one")
        self.spec = spec
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        from mcp_shop.db import sqlite_path

        self._private: str | None = None
        if private_sqlite and sqlite_path(db) is not None:
            self._private = tempfile.mkdtemp(prefix="shop-episodes-")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_init,
                                         initargs=(spec, self._private))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(cancel=exc_type is not None)

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: drop the batches not started yet and end those
        running, after a failure or Ctrl-C) and delete the private database copies."""
        try:
            if cancel:
                self._cancel()
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        finally:
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)
                self._private = None

    def _cancel(self) -> None:
        """Drop the batches not started yet, end the workers (those running a batch too) and
        wait for the pool's manager thread to finish.

        First the manager thread is told to drop the batches not started (it cancels their
        futures and forgets them), then the workers are ended. In that order the manager never
        marks a cancelled future as failed when it sees the workers gone, which raises
        InvalidStateError in its thread on Python 3.11 (and the shutdown then waits for
        ever). The workers and the lock they send results under are looked up before: the
        pool forgets them as it is told to shut down."""
        pool: Any = self._pool
        processes = list((getattr(pool, "_processes", None) or {}).values())
        lock: Any = getattr(getattr(pool, "_result_queue", None), "_wlock", None)
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        _end_workers(processes, lock)
        if manager is not None:
            manager.join(timeout=30)

    def warm_up(self) -> None:
        """Start every worker (each opens the shop) before anything is timed."""
        list(self._pool.map(_ping, range(self.workers * 2)))

    def run(self, agent_name: str, tasks: Sequence[Any], *, trials: int = 1,
            concurrency: int = 4, reward_mode: str = "sparse", batch: int | None = None,
            on_done: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
        """Run ``agent_name`` on ``tasks``; ``on_done`` sees each record as its batch ends; the
        returned list is in task order. ``batch``: tasks per job (default ``default_batch``).
        A batch that fails ends the run at once (the batches not started are dropped, the
        workers ended), as a failed episode ends a run in one process, even while earlier
        batches are still playing."""
        if batch is None:
            batch = default_batch(len(tasks), self.workers, trials)
        futures: list[Future[list[dict[str, Any]]]] = [
            self._pool.submit(_run_batch, agent_name, [self.spec.dump(t) for t in chunk],
                              trials, concurrency, reward_mode)
            for chunk in batches(tasks, batch)]
        out: list[dict[str, Any]] = []
        try:
            for records in _in_order(futures):
                out.extend(records)
                if on_done is not None:
                    for record in records:
                        on_done(record)
        except BaseException:
            for fut in futures:  # a failure (or Ctrl-C) stops the batches not started yet
                fut.cancel()
            raise
        return out


def _in_order(futures: Sequence[Future[list[dict[str, Any]]]],
              ) -> Iterator[list[dict[str, Any]]]:
    """The results of ``futures`` in their order, each once it and those before it are done;
    the failure of any of them is raised as soon as it is known."""
    waiting = set(futures)
    for fut in futures:
        while not fut.done():
            done, _ = wait(waiting, return_when=FIRST_COMPLETED)
            waiting -= done
            for other in done:
                if not other.cancelled() and other.exception() is not None:
                    other.result()  # raises its error
        waiting.discard(fut)
        yield fut.result()


def _end_workers(processes: Sequence[Any], lock: Any) -> None:
    """Terminate ``processes`` while holding ``lock``, the one they send results under: a
    worker ended in the middle of sending a batch's records would leave half a message in the
    pipe, and the pool's manager thread would wait for the rest for ever."""
    held = lock is not None and lock.acquire(timeout=30)
    try:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=30)
    finally:
        if held:
            lock.release()


def _ping(_: int) -> bool:
    return _WORKER is not None


def run_in_workers(db: str, agent_name: str, tasks: Sequence[TaskSpec], *, workers: int,
                   catalog_seed: int = 0, catalog_size: int = 10_000, **options: Any,
                   ) -> list[dict[str, Any]]:
    """Run ``agent_name`` on ``tasks`` in ``workers`` processes over the database at ``db``
    (a SQLite file or PostgreSQL: every process opens it). See ``WorkerPool.run``."""
    with WorkerPool(db, workers=workers, catalog_seed=catalog_seed,
                    catalog_size=catalog_size) as pool:
        return pool.run(agent_name, tasks, **options)
