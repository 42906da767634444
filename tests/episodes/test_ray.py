"""Rollouts on Ray (``shop-episodes run --ray``) on a local Ray instance of 2 CPUs, started once
for the module: 200 episodes give the file one process writes (but for timing), trials and a
curriculum follow a single process's, a worker killed mid-run has its batch played again
elsewhere and every episode recorded exactly once, a node holding another catalog stops the run
with its error, and a missing Ray or an unreachable cluster is one line. Without Ray the tests
skip with the reason; under ``CI=true`` they fail."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from episodes import cli
from episodes.cli.options import task_list
from episodes.cli.run import run_in_pool, run_in_process
from episodes.cli.writer import RolloutWriter
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import untimed

try:
    import ray
except ImportError:  # pragma: no cover - the extra is missing
    ray = None

EPISODES = ["--families", "all", "--difficulty", "0-2", "--episodes", "200", "--seed", "5"]


def _ray_or_skip() -> Any:
    if ray is None:
        reason = "Ray is not installed (pip install 'mcp-shop[ray]')"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires Ray: {reason}")
        pytest.skip(reason)
    return ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """A local Ray instance of 2 CPUs for the module."""
    r = _ray_or_skip()
    r.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    r.shutdown()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file holding the test catalog (and its search index beside it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ray') / 'shop.db'}"
    Shop.open(url, seed=TEST_SEED, size=TEST_SIZE).engine.dispose()
    return url


@pytest.fixture(scope="module")
def shop(db: str) -> Iterator[Any]:
    s = Shop.open(db, seed=TEST_SEED, size=TEST_SIZE)
    yield s
    s.engine.dispose()


@pytest.fixture
def shop_args(db: str) -> list[str]:
    return ["--db", db, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.output, "console", Console(width=250, no_color=True,
                                                       highlight=False))
    monkeypatch.setattr(cli.output, "err", Console(width=250, stderr=True, no_color=True,
                                                   highlight=False))


@pytest.fixture(scope="module")
def pool(cluster: None, db: str, shop: Any) -> Iterator[Any]:
    """Two Ray workers with the shop open, for the module's runs; they reserve no CPU, so the
    command's own workers (``run --ray``) still find the instance's 2 CPUs free."""
    from episodes.ray_rollouts import RayPool

    with RayPool(db, workers=2, catalog_seed=TEST_SEED, catalog_size=TEST_SIZE,
                 fingerprint=shop.catalog.fingerprint, cpus=0) as p:
        yield p


@pytest.fixture(scope="module")
def tasks200(shop: Any) -> list[Any]:
    """The 200 tasks ``run`` generates from ``EPISODES``."""
    return _tasks(shop, *EPISODES)


def _run_args() -> argparse.Namespace:
    return argparse.Namespace(agent="oracle", trials=1, concurrency=8, reward_mode="sparse",
                              connect=None, stdio=None, shopper_llm=None,
                              direct=False, keep_sessions=False)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory, shop: Any, tasks200: list[Any]) -> Path:
    """The rollout file of the 200 episodes in one process (what ``run`` without ``--ray``
    runs: ``run_in_process``)."""
    import anyio

    from episodes.agents import make_agent

    out = tmp_path_factory.mktemp("single") / "one.jsonl"
    writer = RolloutWriter(str(out), trials=1)
    try:
        anyio.run(run_in_process, _run_args(), shop, tasks200, writer, make_agent("oracle"))
    finally:
        writer.close()
    return out


def read_untimed(path: Path) -> list[dict[str, Any]]:
    return [untimed(json.loads(line)) for line in path.read_text().splitlines()]


def _tasks(shop: Any, *options: str) -> list[Any]:
    parser = argparse.ArgumentParser()
    cli._add_shop_options(parser)
    from episodes.cli.options import add_task_options

    add_task_options(parser, episodes=60)
    return task_list(parser.parse_args(list(options)), shop)


def test_without_ray_these_tests_skip_but_fail_under_ci(monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    monkeypatch.setitem(globals(), "ray", None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Ray is not installed"):
        _ray_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires Ray"):
        _ray_or_skip()


def test_without_ray_the_run_is_one_line_and_no_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shop_args: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    out = tmp_path / "r.jsonl"
    assert cli.main(["run", "--ray", "--episodes", "2", "--out", str(out), *shop_args]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --ray needs Ray, which is not installed; install it with: "
                   "pip install 'mcp-shop[ray]'")
    assert not out.exists()


def test_ray_runs_its_own_servers(shop_args: list[str], capsys: pytest.CaptureFixture[str],
                                  ) -> None:
    assert cli.main(["run", "--ray", "--connect", "http://127.0.0.1:1/mcp", "--episodes", "2",
                     *shop_args]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --ray runs in-memory servers in each process; it cannot be combined with "
        "--connect or --stdio")


def test_an_unreachable_cluster_is_one_line_and_no_file(
        tmp_path: Path, shop_args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _ray_or_skip()
    out = tmp_path / "r.jsonl"
    for address, message in (("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1'"),
                             ("ray://127.0.0.1:1", "cannot reach the Ray cluster at 'ray://"),
                             ("nowhere", "--ray 'nowhere': give 'auto', host:port")):
        assert cli.main(["run", "--ray", address, "--episodes", "2", "--out", str(out),
                         *shop_args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {message}"), err
        assert not out.exists()


def test_200_episodes_give_the_single_process_file(pool: Any, tasks200: list[Any],
                                                   single: Path, tmp_path: Path) -> None:
    """What ``run --ray`` runs (``run_in_pool`` over the Ray workers) writes the file one
    process writes, but for timing."""
    out = tmp_path / "ray.jsonl"
    writer = RolloutWriter(str(out), trials=1)
    try:
        records = run_in_pool(_run_args(), pool, "2 Ray workers", tasks200, writer)
    finally:
        writer.close()
    assert writer.finished == writer.written == len(records) == 200  # the progress count
    assert read_untimed(out) == read_untimed(single)
    assert len(pool.pids()) == 2


def test_trials_follow_a_single_process(pool: Any, shop: Any) -> None:
    import anyio

    from episodes.agents import make_agent
    from episodes.controller import EpisodeController

    tasks = _tasks(shop, "--families", "purchase,return,cart", "--difficulty", "3,6",
                   "--episodes", "6", "--seed", "2")

    async def one_process() -> list[dict[str, Any]]:
        async with EpisodeController(shop) as controller:
            return await controller.run(make_agent("heuristic"), tasks, trials=3)

    records = pool.run("heuristic", tasks, trials=3, batch=2)
    assert [(r["task_id"], r["trial"]) for r in records] == \
        [(t.task_id, k) for t in tasks for k in range(3)]
    assert [untimed(r) for r in records] == [untimed(r) for r in anyio.run(one_process)]


def test_a_lost_worker_is_replaced_and_its_episodes_recorded_once(
        pool: Any, tasks200: list[Any], single: Path) -> None:
    """A worker killed mid-run (kill -9 of its process): its batches are played again by the
    other worker or its replacement; every episode comes back exactly once, as in one
    process."""
    tasks = tasks200[:24]
    pool.warm_up()
    lost, killed = pool.lost, []
    seen: list[str] = []

    def on_done(record: dict[str, Any]) -> None:
        seen.append(record["task_id"])
        if not killed:  # the first batch is back: the other worker has two to play
            busy = pool.outstanding()
            pid = pool.pids()[max(busy, key=busy.__getitem__)]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    records = pool.run("oracle", tasks, batch=4, concurrency=4, on_done=on_done)
    assert pool.lost == lost + 1
    assert killed[0] not in pool.pids().values()
    assert sorted(seen) == sorted(t.task_id for t in tasks)  # each once
    assert [untimed(r) for r in records] == read_untimed(single)[:24]


def test_a_worker_with_another_catalog_stops_the_run(cluster: None, db: str,
                                                    tasks200: list[Any]) -> None:
    """A node whose file at the --db path holds another catalog than the driver's: the
    worker's error, as it is, before any episode."""
    from episodes.parallel import CatalogMismatch
    from episodes.ray_rollouts import RayPool

    with pytest.raises(CatalogMismatch, match="remove it so it is generated"), \
            RayPool(db, workers=1, catalog_seed=TEST_SEED, catalog_size=TEST_SIZE,
                    fingerprint="f" * 64, cpus=0) as p:
        p.run("oracle", tasks200[:2], on_done=pytest.fail)


def test_curriculum_on_ray_follows_one_process(cluster: None, tmp_path: Path,
                                               shop_args: list[str]) -> None:
    """``run --ray --curriculum``: batches of 4 give what one process gives with batches of
    4 (the same draws, windows and records)."""
    runs = {}
    for name, extra in (("ray", ["--ray", "--workers", "2", "--concurrency", "2"]),
                        ("inline", ["--curriculum-batch", "4", "--concurrency", "3"])):
        state, out = tmp_path / f"{name}.json", tmp_path / f"{name}.jsonl"
        assert cli.main(["run", "--agent", "heuristic", "--families", "discovery,cart",
                         "--curriculum", str(state), "--curriculum-check-every", "2",
                         "--episodes", "8", "--out", str(out), *extra, *shop_args]) == 0
        runs[name] = (json.loads(state.read_text()), read_untimed(out))
    assert runs["ray"] == runs["inline"]
    assert len(runs["inline"][1]) == 8
