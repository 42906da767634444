"""Advisory locks across processes on a lock file (``fcntl.flock``), and the one beside a
SQLite database that orders the processes opening and filling it.

A process filling a new SQLite file (a catalog build or an import) switches it to a rollback
journal for the load; another process connecting meanwhile cannot switch it back to WAL and
fails at once with 'database is locked' (SQLite answers BUSY to a journal-mode change without
waiting). So the fillers hold the database's lock exclusively (``database_lock``), and a new
connection refused its switch waits for the lock shared, then switches (``mcp_shop.db``): a
process starting while another builds the catalog waits for the build, then finds the catalog
there (``ensure_catalog`` builds under the lock and looks again once it has it). The lock file
sits beside the database (``.NAME.lock``, made by the first filler or waiter and left there),
on the same disk, so processes of several machines sharing that disk are ordered too.

The locks are re-entrant within a thread: a thread holding a lock (either kind) takes it again
at no cost, so a filler's own new connections never wait for it; other threads of the process
wait like other processes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["database_lock", "file_lock", "lock_path"]

_local = threading.local()  # .held: the lock files this thread holds, and how many times


def lock_path(database: Path) -> Path:
    """The lock file of the SQLite database at ``database``: ``.NAME.lock`` beside it."""
    return database.with_name(f".{database.name}.lock")


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold an advisory lock on the file at ``path`` (created if missing): exclusive, or
    ``shared`` with other shared holders. Re-entrant within a thread (see the module
    docstring). Nothing where no lock can be taken: no ``fcntl`` (Windows) or no lock file
    can be made there (a read-only directory)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    key = str(path)
    held: dict[str, int] = _local.__dict__.setdefault("held", {})
    if held.get(key, 0) > 0:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held across the yield
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def database_lock(database: Path | None, *, shared: bool = False) -> Iterator[None]:
    """``file_lock`` on the lock file of the SQLite database at ``database``; nothing for
    ``None`` (PostgreSQL, whose own locks order its writers)."""
    if database is None:
        yield
        return
    with file_lock(lock_path(database), shared=shared):
        yield
