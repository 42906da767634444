"""What a Ray run (``episodes.ray_rollouts``) keeps on each node's disk on SQLite: the run's
private copies of the ``--db`` file under the node's own temporary directory (``node_dir``),
deleted at the end by the run's idle workers or, on a node whose workers are gone or busy, by a
``Sweeper`` (``sweep_nodes``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["Sweeper", "node_dir", "sweep_nodes"]


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
