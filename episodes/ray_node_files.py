"""What a Ray run (``episodes.ray_rollouts``) keeps on each node's disk on SQLite: the lock
beside the ``--db`` file under which the workers sharing that disk open it (``disk_lock``),
and the run's private copies of it under the node's own temporary directory (``node_dir``),
deleted at the end by the run's idle workers or, on a node whose workers are gone or busy, by a
``Sweeper`` (``sweep_nodes``)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Sweeper", "disk_lock", "node_dir", "sweep_nodes"]


@contextlib.contextmanager
def disk_lock(db: str) -> Iterator[None]:
    """Held by one process at a time per SQLite file: the database's own lock
    (``mcp_shop.locks.database_lock``, a lock file beside it, on the file's disk), taken for
    the whole opening, so the processes of several nodes sharing that disk fill a missing
    database there (a catalog, a tau2 world) once (``episodes.parallel.machine_lock`` orders
    those of one machine only). Nothing for PostgreSQL."""
    from mcp_shop.db import sqlite_path
    from mcp_shop.locks import database_lock

    path = sqlite_path(db)
    if path is not None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
    with database_lock(path):
        yield


def node_dir(name: str) -> str:
    """A run's directory of private copies on this node: ``name`` in the node's temporary
    directory (the driver's may not exist on another machine)."""
    return str(Path(tempfile.gettempdir()) / name)


class Sweeper:
    """A short-lived actor deleting a run's private SQLite copies on its node once the run's
    workers have ended (an actor, ended by ``ray.kill`` like the workers, rather than a task:
    Ray's idle task workers can abort noisily as they exit)."""

    def sweep(self, name: str) -> None:
        import shutil

        shutil.rmtree(node_dir(name), ignore_errors=True)


def sweep_nodes(name: str, nodes: set[str]) -> None:
    """Run ``Sweeper.sweep(name)`` on each of ``nodes`` (Ray node ids) that is still up (best
    effort: a node that does not answer within a minute keeps its copies, under its temporary
    directory)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
    sweeper: Any = ray.remote(Sweeper)
    actors = [sweeper.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
        node, soft=False)).remote() for node in nodes & alive]
    refs = [a.sweep.remote(name) for a in actors]
    ray.wait(refs, num_returns=len(refs), timeout=60)
    for actor in actors:
        ray.kill(actor, no_restart=True)
