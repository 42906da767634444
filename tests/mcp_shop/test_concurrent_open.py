"""Processes opening one new SQLite file at once: one of them builds the catalog, the others
wait for it and open it (a process connecting while another loads the file out of WAL mode
failed with 'database is locked'); and the locks that order them (``mcp_shop.locks``)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mcp_shop.locks import database_lock, file_lock, lock_path

OPEN = """
import sys, time
time.sleep(float(sys.argv[2]))
from mcp_shop import Shop
shop = Shop.open(sys.argv[1], seed=11, size=1500, index_dir=None)
print(shop.catalog.fingerprint, shop.catalog.product_count)
"""


@pytest.mark.parametrize("round_", range(3))
def test_processes_opening_a_new_file_build_one_catalog(tmp_path: Path, round_: int) -> None:
    """Four processes a few milliseconds apart on a missing file (the race needs a start
    during another's load: the delays spread the starts over the load)."""
    db = tmp_path / "new.db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, f"sqlite:///{db}", str(delay)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
             for delay in (0, 0.05, 0.15, 0.3)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    assert len({out.split()[0] for out, _ in outs}) == 1  # one catalog, the same for all
    assert {out.split()[1] for out, _ in outs} == {"1500"}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM catalog_info").fetchone()[0] == 1


def _holds(path: Path, started: threading.Event, release: threading.Event,
           *, shared: bool) -> None:
    with file_lock(path, shared=shared):
        started.set()
        release.wait(10)


def _waits(path: Path, *, shared: bool, holder_shared: bool) -> bool:
    """Whether a second thread asking for the lock (``shared``) waits while a first holds it
    (``holder_shared``)."""
    started, release, got = threading.Event(), threading.Event(), threading.Event()
    holder = threading.Thread(target=_holds, args=(path, started, release),
                              kwargs={"shared": holder_shared})
    holder.start()
    assert started.wait(10)

    def ask() -> None:
        with file_lock(path, shared=shared):
            got.set()

    asker = threading.Thread(target=ask)
    asker.start()
    waited = not got.wait(0.3)
    release.set()
    holder.join(10)
    asker.join(10)
    assert got.is_set()  # it gets the lock once the holder lets go
    return waited


def test_an_exclusive_lock_orders_threads_and_shared_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / ".x.lock"
    assert _waits(path, shared=True, holder_shared=False)
    assert _waits(path, shared=False, holder_shared=True)
    assert _waits(path, shared=False, holder_shared=False)
    assert not _waits(path, shared=True, holder_shared=True)


def test_a_lock_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    path = tmp_path / ".x.lock"
    done = threading.Event()

    def nested() -> None:
        with file_lock(path), file_lock(path, shared=True), file_lock(path):
            done.set()

    t = threading.Thread(target=nested)
    t.start()
    t.join(5)
    assert done.is_set()  # no wait on itself
    assert not _waits(path, shared=True, holder_shared=True)  # and all of it let go


def test_a_process_waits_for_another_holding_the_database_lock(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    code = ("import sys, time\nfrom pathlib import Path\nfrom mcp_shop.locks import "
            "database_lock\nwith database_lock(Path(sys.argv[1])):\n    print('held', "
            "flush=True)\n    time.sleep(1.0)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        started = time.monotonic()
        with database_lock(db, shared=True):
            waited = time.monotonic() - started
        assert waited > 0.3  # it held the lock for a second from its "held"
        assert lock_path(db) == tmp_path / ".shop.db.lock" and lock_path(db).exists()
    finally:
        proc.wait(10)


def test_no_lock_where_none_can_be_made(tmp_path: Path) -> None:
    """A database in a directory where no lock file can be made opens unordered, as before."""
    missing = tmp_path / "no" / "such" / "dir" / "shop.db"
    with database_lock(missing), database_lock(None):
        pass
    assert not lock_path(missing).exists()
