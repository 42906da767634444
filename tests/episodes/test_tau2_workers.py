"""tau2 retail runs in worker processes (``shop-episodes run --suite tau2-retail --workers N``)
on the fixture world: the rollout file is the one one process writes (but for timing), with
trials, on SQLite (private copies, removed at the end) and on PostgreSQL (one shared
database), over MCP and --direct; Ctrl-C keeps the finished episodes and removes the copies;
a worker on a machine without the database imports the world there."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from episodes import cli
from episodes.tau2.tasks import select_tasks
from episodes.tau2.workers import Tau2Spec
from tests.conftest import PG_URL, engine_for
from tests.episodes.records import untimed
from tests.episodes.tau2_doors import FIXTURE, world

__all__ = ["world"]


def _copies() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("shop-episodes-*")}


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def pg_url(tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A URL on a schema of its own on the test PostgreSQL (dropped afterwards)."""
    made = engine_for("postgresql", tmp_path, pg_reason)
    engine = next(made)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    made.close()


def _run(tmp_path: Path, name: str, db: str, *more: str) -> list[dict[str, Any]]:
    out = tmp_path / f"{name}.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE),
                     "--agent", "oracle", "--trials", "2", "--concurrency", "3",
                     "--tau2-db", db, "--out", str(out), *more]) == 0
    return _records(out)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_write_the_one_process_file(backend: str, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    db = (f"sqlite:///{tmp_path / 'tau2.db'}" if backend == "sqlite"
          else request.getfixturevalue("pg_url"))
    one = _run(tmp_path, "one", db)
    before = _copies()
    two = _run(tmp_path, "two", db, "--workers", "2")
    assert _copies() - before == set()  # the private SQLite copies are gone
    assert [(r["task_id"], r["trial"]) for r in two] == [
        (f"tau2-retail/{i}", t) for i in range(14) for t in (0, 1)]
    assert all(r["success"] for r in two)
    assert [untimed(r) for r in two] == [untimed(r) for r in one]


def test_direct_workers_write_the_same_records(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'tau2.db'}"
    out = tmp_path / "mcp.jsonl"
    assert cli.main(["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE), "--agent",
                     "oracle-silent", "--split", "test", "--tau2-db", db,
                     "--out", str(out)]) == 0
    direct = _run(tmp_path, "direct", db, "--workers", "2", "--direct", "--split", "test",
                  "--agent", "oracle-silent", "--trials", "1")
    assert [untimed(r) for r in direct] == [untimed(r) for r in _records(out)]


def test_a_worker_imports_a_missing_world(world: Any, tmp_path: Path) -> None:
    """A worker on a machine without the database file (a Ray node) imports the world it is
    given there, plays in a private copy and deletes the copy when closed."""
    url = f"sqlite:///{tmp_path / 'node' / 'tau2.db'}"
    copies = tmp_path / "copies"
    worker = Tau2Spec(url, world=world).open(str(copies))
    try:
        tasks = [t.to_json() for t in select_tasks(world, ids=["11", "7"])]
        records = worker.run_batch("oracle", tasks, 2, 2, "sparse")
        assert [(r["task_id"], r["trial"]) for r in records] == [
            ("tau2-retail/11", 0), ("tau2-retail/11", 1), ("tau2-retail/7", 0),
            ("tau2-retail/7", 1)]
        assert all(r["success"] for r in records)
        assert (tmp_path / "node" / "tau2.db").is_file()
        assert len(list(copies.glob("worker-*.db"))) == 1
    finally:
        worker.close()
    assert list(copies.glob("worker-*")) == []


def test_ctrl_c_keeps_the_finished_episodes_and_stops_the_workers(tmp_path: Path) -> None:
    import sys

    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    from tests.episodes.test_cli_interrupts import interrupt_when_written, last_line

    out = tmp_path / "r.jsonl"
    before = _copies()
    done = interrupt_when_written(
        ["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE), "--agent", "oracle",
         "--trials", "50", "--workers", "2", "--out", str(out)], out)
    assert done.returncode == 130, done.stderr
    records = _records(out)
    assert last_line(done.stderr) == f"interrupted: {len(records)} episodes written to {out}"
    assert 0 < len(records) < 700 and all(r["success"] for r in records)
    # in task order, each episode once (finished ones waiting for an earlier one are kept)
    places = [int(r["task_id"].removeprefix("tau2-retail/")) * 50 + r["trial"]
              for r in records]
    assert places == sorted(set(places))
    assert _copies() - before == set()
