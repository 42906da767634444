"""Worker processes: records equal a single process's, private SQLite copies are removed, a
failure stops the batches not started yet, and a worker on a machine without the database file
generates the run's catalog there (or refuses another one)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from episodes.generate import generate_task
from episodes.parallel import WorkerPool
from tests.conftest import TEST_SEED, TEST_SIZE


def _copies() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("shop-episodes-*")}


def test_worker_copies_are_removed_and_records_match(ep_shop: Any) -> None:
    tasks = [generate_task(ep_shop, f, 1, 3) for f in ("cart", "return", "policy", "bundle")]
    before = _copies()
    with WorkerPool(str(ep_shop.engine.url), workers=2, catalog_seed=TEST_SEED,
                    catalog_size=TEST_SIZE) as pool:
        during = _copies() - before
        records = pool.run("oracle", tasks, batch=2)
    assert len(during) == 1  # one private directory for the pool's copies
    assert _copies() - before == set()
    assert [r["task_id"] for r in records] == [t.task_id for t in tasks]
    assert all(r["success"] for r in records)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_failure_cancels_the_rest(ep_shop: Any) -> None:
    """The batches not started are dropped and the workers ended, without an error in the
    pool's own threads (a cancelled batch marked failed raised one there on Python 3.11)."""
    tasks = [generate_task(ep_shop, "cart", 0, s) for s in range(12)]
    before = _copies()
    with pytest.raises(Exception) as info, \
            WorkerPool(str(ep_shop.engine.url), workers=2, catalog_seed=TEST_SEED,
                       catalog_size=TEST_SIZE) as pool:
        pool.run("no-such-agent", tasks, batch=1)
    exc: BaseException = info.value
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, ValueError) and "unknown agent" in str(exc)
    assert _copies() - before == set()


def test_a_worker_generates_a_missing_catalog_and_checks_its_fingerprint(
        ep_shop: Any, tmp_path: Path) -> None:
    """A worker on a machine without the database file (a Ray node) generates the catalog at
    that path from the seed and size: the same fingerprint as the run's; a file holding
    another catalog is refused with what to do."""
    from episodes.parallel import CatalogMismatch, WorkerShop
    from mcp_shop.errors import InvalidState

    fingerprint = ep_shop.catalog.fingerprint
    url = f"sqlite:///{tmp_path / 'node' / 'shop.db'}"  # the directory is created too
    worker = WorkerShop(url, catalog_seed=TEST_SEED, catalog_size=TEST_SIZE,
                        private_dir=str(tmp_path / "copies"), fingerprint=fingerprint)
    try:
        assert worker.shop.catalog.fingerprint == fingerprint
        assert worker.copy is not None and worker.copy.exists()
        task = generate_task(ep_shop, "cart", 1, 3)
        [record] = worker.run_batch("oracle", [task.model_dump(mode="json")], 1, 1, "sparse")
        assert record["success"] and record["task_id"] == task.task_id
    finally:
        worker.close()
    assert list((tmp_path / "copies").iterdir()) == []  # the private copy is deleted
    with pytest.raises(CatalogMismatch, match="remove it so it is generated") as info:
        WorkerShop(url, catalog_seed=TEST_SEED, catalog_size=TEST_SIZE, fingerprint="f" * 64)
    assert isinstance(info.value, InvalidState) and info.value.code == "invalid_state"
    assert info.value.context["expected"] == "f" * 64
