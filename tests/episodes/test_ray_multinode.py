"""Rollouts on a Ray cluster of two nodes on this machine (``ray.cluster_utils.Cluster``: a
head and one more node, 1 CPU each, every node with a temporary directory of its own, as
separate machines have), started once for the module: ``run --ray ADDRESS`` plays episodes on
both nodes and writes the file one process writes (but for timing), each node's workers playing
in private copies under its own temporary directory, deleted at the end; two nodes sharing the
disk of a missing --db file generate its catalog once, intact; the node that is not the head
removed mid-run (its processes killed) loses no episode. Without Ray the tests skip with the
reason; under ``CI=true`` they fail (``_ray_or_skip``)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episodes import cli
from episodes.cli.run import run_in_pool
from episodes.cli.writer import RolloutWriter
from mcp_shop import Shop
from tests.conftest import TEST_SEED, TEST_SIZE
from tests.episodes.records import untimed
from tests.episodes.test_ray import _ray_or_skip, _run_args, _tasks, read_untimed

EPISODES = ["--agent", "oracle", "--families", "all", "--difficulty", "0-2", "--episodes", "80",
            "--seed", "5"]
NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}  # Ray's smallest store: 75 MiB
# A node whose processes are killed is declared dead in about 1.5 s (by default about 15 s: the
# run does not wait for it, but the end of the run's sweep of private copies does).
HEALTH = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}


@dataclasses.dataclass
class TwoNodes:
    cluster: Any
    other: Any  # the node that is not the head (where the driver is)
    temps: dict[str, Path]  # each node's temporary directory (its workers' TMPDIR), by node id

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def head_id(self) -> str:
        return str(self.cluster.head_node.node_id)

    def copies(self) -> dict[str, list[str]]:
        """The private SQLite copies of the runs on each node, by node id."""
        return {node: sorted(p.name for p in temp.glob("mcp-shop-ray-*/*.db"))
                for node, temp in self.temps.items()}

    def runs_left(self) -> dict[str, list[str]]:
        """The runs' directories of private copies left on each node, by node id."""
        return {node: sorted(p.name for p in temp.glob("mcp-shop-ray-*"))
                for node, temp in self.temps.items()}


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodes]:
    """The head (1 CPU) and one more node (1 CPU). Ray's files go to a directory of their own
    (``RAY_TMPDIR``), so a local ``ray.init()`` of another test module running beside this one
    does not find this cluster's address and join it."""
    _ray_or_skip()
    import ray
    from ray.cluster_utils import Cluster

    base = Path(tempfile.mkdtemp(prefix="rmn-"))  # short: Ray's socket paths are under it
    temps = {name: base / f"tmp-{name}" for name in ("head", "other")}
    for temp in temps.values():
        temp.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_TMPDIR", str(base))
        cluster = Cluster(initialize_head=True, head_node_args={
            **NODE, "include_dashboard": False, "_system_config": HEALTH,
            "env_vars": {"TMPDIR": str(temps["head"])}})
        try:
            other = cluster.add_node(**NODE, env_vars={"TMPDIR": str(temps["other"])})
            yield TwoNodes(cluster, other, {cluster.head_node.node_id: temps["head"],
                                            other.node_id: temps["other"]})
        finally:
            if ray.is_initialized():
                ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A shop on a SQLite file holding the test catalog (its search index beside it), on the
    disk every node shares."""
    opened = Shop.open(f"sqlite:///{tmp_path_factory.mktemp('multinode') / 'shop.db'}",
                       seed=TEST_SEED, size=TEST_SIZE)
    yield opened
    opened.engine.dispose()


@pytest.fixture(scope="module")
def db(shop: Any) -> str:
    return str(shop.engine.url)


@pytest.fixture(scope="module")
def shop_args(db: str) -> list[str]:
    return ["--db", db, "--catalog-seed", str(TEST_SEED), "--catalog-size", str(TEST_SIZE)]


@pytest.fixture(scope="module")
def tasks80(shop: Any) -> list[Any]:
    """The 80 tasks ``run`` generates from ``EPISODES``."""
    return _tasks(shop, *EPISODES[2:])


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory, shop_args: list[str]) -> Path:
    """The file of ``run`` without Ray: the 80 episodes in one process."""
    out = tmp_path_factory.mktemp("one") / "one.jsonl"
    assert cli.main(["run", *EPISODES, "--out", str(out), *shop_args]) == 0
    return out


def _pool(nodes: TwoNodes, db: str, shop: Any, **options: Any) -> Any:
    from episodes.ray_rollouts import RayPool

    return RayPool(db, address=nodes.address, catalog_seed=TEST_SEED, catalog_size=TEST_SIZE,
                   fingerprint=shop.catalog.fingerprint, **options)


def test_run_ray_address_plays_on_both_nodes_as_one_process(
        nodes: TwoNodes, shop_args: list[str], one_process: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --ray HEAD:PORT`` (the pool it makes watched: warmed up first, so that both
    workers are up when the batches are handed out): one worker per node, the records of one
    process, episodes from both nodes, each worker's private copy in its node's temporary
    directory while it runs and none left after."""
    from episodes import ray_rollouts

    seen: list[tuple[Any, dict[int, str], dict[str, list[str]]]] = []

    class Watched(ray_rollouts.RayPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.warm_up()
            seen.append((self, self.nodes(), nodes.copies()))

    monkeypatch.setattr(ray_rollouts, "RayPool", Watched)
    out = tmp_path / "ray.jsonl"
    assert cli.main(["run", *EPISODES, "--ray", nodes.address, "--out", str(out),
                     *shop_args]) == 0
    [(pool, placed, copies)] = seen
    assert sorted(placed.values()) == sorted(nodes.temps)  # a worker on each node
    assert {node: len(names) for node, names in copies.items()} == dict.fromkeys(nodes.temps, 1)
    played = pool.episodes_by_node()
    assert sorted(played) == sorted(nodes.temps) and all(played.values()), played
    assert sum(played.values()) == 80
    assert read_untimed(out) == read_untimed(one_process)
    assert nodes.runs_left() == dict.fromkeys(nodes.temps, [])


def test_nodes_sharing_a_disk_generate_a_missing_catalog_once(
        nodes: TwoNodes, shop: Any, tasks80: list[Any], one_process: Path,
        tmp_path: Path) -> None:
    """A worker on each node opens a --db file that does not exist yet, in one directory both
    nodes see (for machines: a network filesystem): each node's own lock (in its temporary
    directory) does not order them, the lock beside the file does. Both workers open the
    driver's catalog, the file is intact, the first pool's episodes are those of one process.
    Three times, as the race is one of timing: without that lock about one start in two
    failed with 'database is locked'."""
    from episodes.ray_rollouts import ray_session

    with ray_session(nodes.address):  # one connection for the three pools
        for round_ in range(3):
            fresh = tmp_path / f"shared-{round_}" / "shop.db"
            with _pool(nodes, f"sqlite:///{fresh}", shop) as pool:  # 1 CPU each: one a node
                pool.warm_up()  # raises the error of a worker that could not open its shop
                assert sorted(pool.nodes().values()) == sorted(nodes.temps)
                if round_ == 0:
                    records = pool.run("oracle", tasks80[:8], batch=2)
                    assert [untimed(r) for r in records] == read_untimed(one_process)[:8]
            with contextlib.closing(sqlite3.connect(fresh)) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert conn.execute("SELECT count(*) FROM catalog_info").fetchone() == (1,)
            opened = Shop.open(f"sqlite:///{fresh}", seed=TEST_SEED, size=TEST_SIZE)
            assert opened.catalog.fingerprint == shop.catalog.fingerprint
            opened.engine.dispose()


def test_a_node_removed_mid_run_loses_no_episode(
        nodes: TwoNodes, db: str, shop: Any, tasks80: list[Any], one_process: Path,
        tmp_path: Path) -> None:
    """The node that is not the head is removed (its raylet and workers killed) once it has
    played a batch and still holds the next: 1.5 s later, so that batch has most likely
    ended there and its records wait on that node, not yet fetched (else it is removed mid
    batch). That batch is played again on the head, the run goes on with the head's worker,
    and the file is the one process's: every episode once. Runs last: the cluster has one
    node after it."""
    other = nodes.other.node_id
    removed: list[float] = []

    class Remover(RolloutWriter):
        def __call__(self, record: dict[str, Any]) -> None:
            super().__call__(record)
            busy = pool.outstanding()
            mine = [n for n, node in pool.nodes().items() if node == other]
            if not removed and pool.episodes_by_node().get(other) and busy.get(mine[0]):
                time.sleep(1.5)
                nodes.cluster.remove_node(nodes.other, allow_graceful=False)
                removed.append(time.monotonic())

    out = tmp_path / "ray.jsonl"
    writer = Remover(str(out), trials=1)
    with _pool(nodes, db, shop) as pool:
        pool.warm_up()
        try:
            records = run_in_pool(_run_args(), pool, "2 Ray workers", tasks80, writer)
        finally:
            writer.close()
        assert removed and pool.lost == 1
        assert set(pool.nodes().values()) == {nodes.head_id}  # its replacement cannot start
        played = pool.episodes_by_node()
    assert writer.finished == writer.written == len(records) == 80  # each episode once
    assert read_untimed(out) == read_untimed(one_process)
    assert sorted(played) == sorted(nodes.temps) and sum(played.values()) == 80, played
    assert nodes.runs_left()[nodes.head_id] == []
