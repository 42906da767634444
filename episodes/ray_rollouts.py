"""Episodes on a Ray cluster (``shop-episodes run --ray [ADDRESS]``; ``pip install
'mcp-shop[ray]'``): one Ray worker per CPU of the cluster, each with its own shop connection
and in-memory MCP server, opened once (``episodes.parallel.WorkerShop``, as a worker process of
``--workers`` opens it).

On PostgreSQL every node opens the same database (the same ``--db`` URL). On SQLite each node
opens the file at the ``--db`` path on its own disk, generating the catalog there on first use
(deterministic from ``--catalog-seed`` and ``--catalog-size``, so no shared filesystem is
needed; an imported catalog's file must be copied there), and each worker plays in a private
copy of it under its node's temporary directory, deleted when the run ends (what a run keeps
on a node's disk: ``episodes.ray_node_files``). The workers that share the file's disk (nodes
on one machine, or a network filesystem) fill a missing catalog there once, under the lock
file beside it (``episodes.parallel.fill_lock``). Every worker checks its catalog's fingerprint
against the driver's. What a worker opens is a runner spec (``episodes.parallel.RunnerSpec``):
the shop's own tasks as above, or tau2 retail tasks (``--suite tau2-retail``,
``episodes.tau2.workers``: the loaded world travels with the spec, so a node needs no tau2
checkout; on SQLite it is imported into the ``--tau2-db`` path there when missing).

The driver hands out batches of tasks to the workers as they become free and writes the
records in task order: the same records as one process would write, but for timing. A worker
that is lost (its process killed, its node gone, even after the batch ended there but before
the driver fetched its records) returns nothing for its batch: the batch is played again by
another worker, and a replacement worker is started, so every episode is recorded exactly once.
``RayPool.nodes`` and ``RayPool.episodes_by_node`` tell where the workers run and how many
episodes each node played.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import types
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from episodes.parallel import RunnerSpec, ShopSpec, batches, default_batch
from episodes.ray_node_files import Sweeper, node_dir, sweep_nodes

__all__ = ["DEPTH", "RayPool", "RayRolloutError", "connect", "import_ray", "ray_session"]

DEPTH = 2  # batches queued per worker: the next one waits there while the current one plays
INSTALL_HINT = "install it with: pip install 'mcp-shop[ray]'"
_ENV_VARS = ("MCP_SHOP_LLM_", "OPENAI_BASE_URL")  # the llm agent's options, for every node


class RayRolloutError(ValueError):
    """A Ray run that cannot start or go on; ``code``: ``ray_missing``, ``ray_unreachable``,
    ``no_workers`` or ``worker_lost``, with ``params``."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.params = code, message, params

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.params}


def import_ray() -> types.ModuleType:
    """The ``ray`` module, or ``RayRolloutError`` (``ray_missing``) saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayRolloutError("ray_missing", f"--ray needs Ray, which is not installed; "
                              f"{INSTALL_HINT}") from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Connect this process to Ray: ``None`` or ``"local"`` starts a local instance (``num_cpus``
    CPUs, default all), ``"auto"`` joins the cluster of this machine, ``host:port`` (the head's
    GCS) or ``ray://host:port`` (Ray Client) one elsewhere. A process already connected stays
    on its cluster. True if this call connected (so the caller disconnects)."""
    ray = import_ray()
    address = address or "local"
    if address not in ("local", "auto"):
        _reachable(address)
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.WARNING}
    if address == "local":
        options.update(num_cpus=num_cpus, include_dashboard=False)
    try:
        ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        hint = ("" if address in ("local", "auto") else " (its port answers: is it a Ray head "
                "of the same Ray version, and with token authentication, are "
                "RAY_AUTH_MODE=token and the cluster's token set here?)")
        raise RayRolloutError("ray_unreachable", f"cannot reach the Ray cluster at "
                              f"{address!r}: {exc}{hint}", address=address) from None
    return True


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None,
                ) -> Iterator[types.ModuleType]:
    """``connect`` for the ``with`` block (yields ``ray``); leaves Ray after it if it
    connected."""
    ray = import_ray()
    owner = connect(address, num_cpus=num_cpus)
    try:
        yield ray
    finally:
        if owner:
            ray.shutdown()


def _reachable(address: str) -> None:
    """Refuse at once an address whose port does not answer (Ray would retry for minutes)."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RayRolloutError("ray_unreachable", f"--ray {address!r}: give 'auto', host:port "
                              "(the head node's GCS port, 6379 by default) or "
                              "ray://host:port (Ray Client, 10001 by default), or nothing for "
                              "a local instance", address=address)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise RayRolloutError("ray_unreachable", f"cannot reach the Ray cluster at "
                              f"{address!r}: {exc}", address=address) from None


class RolloutWorker:
    """A Ray worker (as an actor): what its runner spec opens (a ``WorkerShop``, a tau2
    worker), opened once, playing batch after batch; ``private``: the name of the run's
    directory of private SQLite copies on its node (``node_dir``)."""

    def __init__(self, spec: RunnerSpec, private: str | None) -> None:
        self.error: Exception | None = None
        try:  # an error is kept for ready(), which raises it as it is (not as a dead actor)
            self.worker = spec.open(None if private is None else node_dir(private))
        except Exception as exc:  # noqa: BLE001 - any failure to open the shop is reported
            self.error = exc

    def ready(self) -> dict[str, Any]:
        """Where this worker runs: ``pid``, ``host`` and Ray's ``node`` id; or the error that
        kept it from opening the shop."""
        import ray

        if self.error is not None:
            raise self.error
        return {"pid": os.getpid(), "host": socket.gethostname(),
                "node": ray.get_runtime_context().get_node_id()}

    def run_batch(self, *args: Any) -> list[dict[str, Any]]:
        return self.worker.run_batch(*args)

    def sweep(self, private: str) -> None:
        """At the end of the run: delete the run's private SQLite copies on this node (this
        worker's and its neighbours', which end with it)."""
        Sweeper().sweep(private)


class RayPool:
    """Ray workers with the shop open, reusable across runs (``with RayPool(...)``): the same
    ``run`` as ``episodes.parallel.WorkerPool``.

    ``address``: see ``connect``. ``workers``: how many (default: one per CPU of the cluster).
    ``fingerprint``: the catalog every worker must hold (the driver's). ``num_cpus``: the CPUs
    of a local instance this pool starts (default all). ``cpus``: the CPUs each worker
    reserves. ``max_losses``: how often one batch may lose its worker before the run fails.
    ``controller``: more ``EpisodeController`` options for every worker. ``spec``: what the
    workers open instead of the shop of ``db`` (``episodes.parallel.RunnerSpec``; then
    ``db`` and the shop's options are not given)."""

    def __init__(self, db: str | None = None, *, address: str | None = None,
                 workers: int | None = None, catalog_seed: int = 0, catalog_size: int = 10_000,
                 fingerprint: str | None = None, rephrase: dict[str, Any] | None = None,
                 num_cpus: int | None = None, cpus: float = 1, max_losses: int = 3,
                 controller: dict[str, Any] | None = None, spec: RunnerSpec | None = None,
                 ) -> None:
        from mcp_shop.db import sqlite_path

        ray = import_ray()
        if spec is None:
            if db is None:
                raise ValueError("RayPool needs a database (db) or a runner spec (spec)")
            spec = ShopSpec(db, catalog_seed=catalog_seed, catalog_size=catalog_size,
                            rephrase=rephrase, fingerprint=fingerprint, controller=controller)
        db = spec.db
        if db.startswith("sqlite") and sqlite_path(db) is None:
            raise ValueError("Ray workers need a database they can open (a SQLite file or "
                             "PostgreSQL), not an in-memory one")
        path = sqlite_path(db)
        if path is not None:  # the same absolute path on every node
            spec = dataclasses.replace(spec, db=f"sqlite:///{path.resolve()}")
        self._private = f"mcp-shop-ray-{secrets.token_hex(6)}" if path is not None else None
        self.spec = spec
        self._owner = connect(address, num_cpus=num_cpus)
        self.max_losses = max_losses
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # put once: a tau2 spec holds the whole world, which every worker start would upload
        self._spec_ref = ray.put(spec)
        env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_VARS)}
        self._actor = ray.remote(RolloutWorker).options(  # type: ignore[attr-defined]
            num_cpus=cpus, max_restarts=0, scheduling_strategy="SPREAD",
            runtime_env={"env_vars": env} if env else None)
        self._handles: dict[int, Any] = {}  # worker number -> actor
        self._starting: dict[Any, int] = {}  # ready() reference -> worker number
        self._ready: dict[int, dict[str, Any]] = {}  # worker number -> where it runs
        self._nodes: dict[int, str] = {}  # worker number -> its node, up or lost
        self._played: dict[str, int] = {}  # node -> episodes its workers returned
        self._running: dict[Any, tuple[int, int, list[dict[str, Any]]]] = {}
        self._count = 0
        self.lost = 0  # workers lost so far
        for _ in range(self.workers):
            self._start()

    def _start(self) -> None:
        number, self._count = self._count, self._count + 1
        handle = self._actor.remote(self._spec_ref, self._private)  # Ray passes the spec
        self._handles[number] = handle
        self._starting[handle.ready.remote()] = number

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pids(self) -> dict[int, int]:
        """The process id of each worker that is up, by worker number."""
        return {n: where["pid"] for n, where in self._ready.items()}

    def nodes(self) -> dict[int, str]:
        """The Ray node id of each worker that is up, by worker number."""
        return {n: where["node"] for n, where in self._ready.items()}

    def episodes_by_node(self) -> dict[str, int]:
        """The episodes played for this pool's runs so far (records returned), by the Ray node
        id of the workers that played them."""
        return dict(self._played)

    def outstanding(self) -> dict[int, int]:
        """Batches handed to each worker that is up and not yet back, by worker number (during
        ``run``, e.g. from ``on_done``)."""
        out = dict.fromkeys(self._ready, 0)
        for number, _, _ in self._running.values():
            if number in out:
                out[number] += 1
        return out

    def warm_up(self) -> None:
        """Wait until every worker has opened its shop (before anything is timed)."""
        import ray

        while self._starting:
            done, _ = ray.wait(list(self._starting), num_returns=1)
            self._started(done[0])

    def _started(self, ref: Any) -> None:
        import ray

        number = self._starting.pop(ref)
        try:
            where = ray.get(ref)
        except ray.exceptions.RayActorError:  # lost while starting: start another
            self._handles.pop(number, None)
            self.lost += 1
            if self.lost > self.max_losses * self.workers:
                raise RayRolloutError("worker_lost", f"{self.lost} Ray workers were lost, "
                                      "too many to go on", lost=self.lost) from None
            self._start()
            return
        except ray.exceptions.RayTaskError as exc:  # it could not open the shop
            raise _cause(exc) from None
        self._ready[number] = where
        self._nodes[number] = where["node"]

    def run(self, agent_name: str, tasks: Sequence[Any], *, trials: int = 1,
            concurrency: int = 4, reward_mode: str = "sparse", batch: int | None = None,
            on_done: Callable[[dict[str, Any]], Any] | None = None) -> list[dict[str, Any]]:
        """Run ``agent_name`` on ``tasks``; ``on_done`` sees each record as its batch ends; the
        returned list is in task order. ``batch``: tasks per job (default ``default_batch``)."""
        import ray

        size = batch or default_batch(len(tasks), self.workers, trials)
        queue = deque(enumerate([self.spec.dump(t) for t in chunk]
                                for chunk in batches(tasks, size)))
        total = len(queue)
        results: dict[int, list[dict[str, Any]]] = {}
        running = self._running = {}  # ref -> worker number, job, its tasks
        losses: dict[int, int] = {}
        try:
            while len(results) < total:
                self._hand_out(queue, running, (agent_name, trials, concurrency, reward_mode))
                if not running and not self._starting:
                    raise RayRolloutError("no_workers", "no Ray worker is left to run the "
                                          "episodes", lost=self.lost)
                done, _ = ray.wait([*running, *self._starting], num_returns=1)
                ref = done[0]
                if ref in self._starting:
                    self._started(ref)
                    continue
                number, job, chunk = running.pop(ref)
                try:
                    records = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError):
                    # its worker gone, or its records, still on a node that is gone
                    self._lose(number)
                    losses[job] = losses.get(job, 0) + 1
                    if losses[job] >= self.max_losses:
                        raise RayRolloutError(
                            "worker_lost", f"a batch of {len(chunk)} tasks lost its Ray "
                            f"worker {losses[job]} times (first task {chunk[0]['task_id']})",
                            task_id=chunk[0]["task_id"], losses=losses[job]) from None
                    queue.appendleft((job, chunk))  # played again by the next free worker
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise _cause(exc) from None
                results[job] = records
                node = self._nodes[number]
                self._played[node] = self._played.get(node, 0) + len(records)
                if on_done is not None:
                    for record in records:
                        on_done(record)
        except BaseException:
            for ref in running:  # a failure (or Ctrl-C) stops the batches not started yet
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=False)
            raise
        return [r for job in range(total) for r in results[job]]

    def _hand_out(self, queue: deque[tuple[int, list[dict[str, Any]]]],
                  running: dict[Any, tuple[int, int, list[dict[str, Any]]]],
                  args: tuple[str, int, int, str]) -> None:
        """Give queued batches to the workers that are up, up to ``DEPTH`` each, the least
        busy first."""
        load = self.outstanding()
        while queue and load and min(load.values()) < DEPTH:
            number = min(load, key=load.__getitem__)
            job, chunk = queue.popleft()
            agent_name, trials, concurrency, reward_mode = args
            ref = self._handles[number].run_batch.remote(agent_name, chunk, trials,
                                                          concurrency, reward_mode)
            running[ref] = (number, job, chunk)
            load[number] += 1

    def _lose(self, number: int) -> None:
        """Worker ``number`` is gone (its other batches fail too): start a replacement."""
        import ray

        if self._ready.pop(number, None) is None:
            return  # already replaced
        self.lost += 1
        ray.kill(self._handles.pop(number), no_restart=True)
        self._start()

    def close(self) -> None:
        """End the workers, delete their private SQLite copies on every node, and leave Ray if
        this pool connected to it."""
        import ray

        try:
            swept: set[str] = set()
            if self._private is not None and not self._running:  # idle: they sweep their nodes
                by_node = {where["node"]: n for n, where in self._ready.items()}
                refs = [self._handles[n].sweep.remote(self._private) for n in by_node.values()]
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=30)
                for node, ref in zip(by_node, refs, strict=True):
                    with contextlib.suppress(Exception):
                        if ref in done:
                            ray.get(ref)
                            swept.add(node)
            for handle in self._handles.values():
                ray.kill(handle, no_restart=True)
            self._handles.clear()
            left = set(self._nodes.values()) - swept
            if self._private is not None and left:
                sweep_nodes(self._private, left)
        finally:
            self._ready.clear()
            self._starting.clear()
            if self._owner:
                ray.shutdown()
                self._owner = False


def _cause(exc: BaseException) -> BaseException:
    """The error a worker raised (``RayTaskError.cause``)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
