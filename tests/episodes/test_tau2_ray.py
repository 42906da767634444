"""tau2 retail runs on Ray (``shop-episodes run --suite tau2-retail --ray``) on a local Ray
instance of 2 CPUs: the fixture world's 14 tasks x 2 trials give the file one process writes
(but for timing), and the workers' private SQLite copies are gone afterwards. Without Ray the
test skips with the reason; under ``CI=true`` it fails."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episodes import cli
from tests.episodes.records import untimed
from tests.episodes.tau2_doors import FIXTURE

try:
    import ray
except ImportError:  # pragma: no cover - the extra is missing
    ray = None


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray instance of 2 CPUs for the module."""
    if ray is None:
        reason = "Ray is not installed (pip install 'mcp-shop[ray]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Ray: {reason}")
        pytest.skip(reason)
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _copies() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mcp-shop-ray-*")}


def test_ray_writes_the_one_process_file(cluster: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'tau2.db'}"
    run = ["run", "--suite", "tau2-retail", "--tau2-path", str(FIXTURE), "--agent", "oracle",
           "--trials", "2", "--concurrency", "3", "--tau2-db", db]
    assert cli.main([*run, "--out", str(tmp_path / "one.jsonl")]) == 0
    before = _copies()
    assert cli.main([*run, "--ray", "--workers", "2",
                     "--out", str(tmp_path / "ray.jsonl")]) == 0
    assert "2 Ray workers" in capsys.readouterr().err
    assert _copies() - before == set()
    on_ray = _records(tmp_path / "ray.jsonl")
    assert [(r["task_id"], r["trial"]) for r in on_ray] == [
        (f"tau2-retail/{i}", t) for i in range(14) for t in (0, 1)]
    assert all(r["success"] for r in on_ray)
    assert [untimed(r) for r in on_ray] == [untimed(r) for r in _records(tmp_path /
                                                                          "one.jsonl")]
