"""``shop-episodes run``: run an agent on tasks, in this process (over an in-memory, HTTP or
stdio server), in worker processes or on a Ray cluster, writing rollouts as episodes
finish."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from episodes.cli import output
from episodes.cli.curriculum_steps import CurriculumSteps, open_curriculum, print_windows
from episodes.cli.options import check_out, open_shop, task_list
from episodes.cli.summary import print_summary, print_trials, summarize
from episodes.cli.writer import RolloutWriter

__all__ = ["build_agent", "cmd_run", "llm_environment", "run_in_pool", "run_in_process",
           "run_in_workers", "run_on_ray"]


def build_agent(args: argparse.Namespace) -> Any:
    """The agent ``--agent`` names, built before any work (an unknown name is a
    ``ValueError`` listing the known ones). Runs in this process use this one; worker
    processes build their own from the name."""
    from episodes.agents import make_agent

    return make_agent(args.agent)


async def run_in_process(args: argparse.Namespace, shop: Any, tasks: list[Any],
                         writer: RolloutWriter, agent: Any, curriculum: Any = None,
                         ) -> list[dict[str, Any]]:
    """Run ``agent`` on ``tasks`` in this process (or, with a ``curriculum``, on
    ``--episodes`` tasks it draws), each record to ``writer``."""
    from episodes.controller import EpisodeController

    connect: Any = ("direct" if args.direct else args.connect
                    or (shlex.split(args.stdio) if args.stdio else None))
    async with contextlib.AsyncExitStack() as stack:
        try:  # connect before creating the output file
            options = rephrase_options(args)
            rephraser = None
            if options is not None:
                from episodes.rephrase import ChatRephraser

                rephraser = ChatRephraser(**options)  # as the workers make theirs
            controller = await stack.enter_async_context(EpisodeController(
                shop, connect=connect, reward_mode=args.reward_mode, rephraser=rephraser,
                **controller_options(args)))
        except Exception as exc:  # noqa: BLE001 - any failure to connect is reported as one
            if connect is None or connect == "direct":
                raise
            raise ConnectionError(f"cannot reach the shop server {args.connect or args.stdio!r}"
                                  f": {_root_cause(exc)}") from None
        total = (len(tasks) if curriculum is None else args.episodes) * args.trials
        with output.Bar(f"Episodes ({agent.name})", total) as advance:
            writer.start(tasks, advance)

            async def run_batch(batch: list[Any]) -> list[dict[str, Any]]:
                return await controller.run(agent, batch, concurrency=args.concurrency,
                                            trials=args.trials, on_done=writer)

            if curriculum is None:
                return await run_batch(tasks)
            steps = CurriculumSteps(args, controller.shop, curriculum, writer)
            with steps:
                for batch in steps:
                    steps.report(await run_batch(batch))
            return steps.records


def controller_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``EpisodeController`` options of ``--keep-sessions`` (and ``--direct`` for the
    workers' controllers: in this process ``run_in_process`` sets ``connect`` itself)."""
    return {"keep_sessions": args.keep_sessions}


def _worker_controller(args: argparse.Namespace) -> dict[str, Any]:
    return {**controller_options(args), **({"connect": "direct"} if args.direct else {})}


def _root_cause(exc: BaseException) -> str:
    """The innermost error of a (possibly grouped) connection failure, as text."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def run_in_workers(args: argparse.Namespace, tasks: list[Any], writer: RolloutWriter,
                   shop: Any = None, curriculum: Any = None) -> list[dict[str, Any]]:
    """Run ``--agent`` on ``tasks`` (or a curriculum's draws) in ``--workers`` processes
    (``episodes.parallel.WorkerPool``), each record to ``writer`` in task order."""
    from episodes.parallel import WorkerPool

    with WorkerPool(args.db, workers=args.workers, catalog_seed=args.catalog_seed,
                    catalog_size=args.catalog_size, rephrase=rephrase_options(args),
                    controller=_worker_controller(args)) as pool:
        return run_in_pool(args, pool, f"{pool.workers} processes", tasks, writer, shop,
                           curriculum)


def run_on_ray(args: argparse.Namespace, tasks: list[Any], writer: RolloutWriter,
               shop: Any, curriculum: Any = None) -> list[dict[str, Any]]:
    """Run ``--agent`` on ``tasks`` (or a curriculum's draws) on the Ray cluster of ``--ray``
    (``episodes.ray_rollouts.RayPool``: ``--workers`` Ray workers, default one per CPU),
    each record to ``writer`` in task order."""
    from episodes.ray_rollouts import RayPool

    with RayPool(args.db, address=args.ray, workers=args.workers,
                 catalog_seed=args.catalog_seed, catalog_size=args.catalog_size,
                 fingerprint=shop.catalog.fingerprint, rephrase=rephrase_options(args),
                 controller=_worker_controller(args)) as pool:
        args.workers = pool.workers  # the curriculum's default batch: --concurrency x workers
        return run_in_pool(args, pool, f"{pool.workers} Ray workers", tasks, writer, shop,
                           curriculum)


def run_in_pool(args: argparse.Namespace, pool: Any, label: str, tasks: list[Any],
                writer: RolloutWriter, shop: Any = None, curriculum: Any = None,
                ) -> list[dict[str, Any]]:
    """Run ``--agent`` on ``tasks`` (or a curriculum's draws) in ``pool`` (a ``WorkerPool`` or
    a ``RayPool``), each record to ``writer`` in task order, with a progress bar."""
    total = (len(tasks) if curriculum is None else args.episodes) * args.trials
    with output.Bar(f"Episodes ({args.agent}, {label})", total) as advance:
        writer.start(tasks, advance)

        def run_batch(batch: list[Any]) -> list[dict[str, Any]]:
            return pool.run(args.agent, batch, trials=args.trials,
                            concurrency=args.concurrency, reward_mode=args.reward_mode,
                            on_done=writer)

        if curriculum is None:
            return run_batch(tasks)
        steps = CurriculumSteps(args, shop, curriculum, writer)
        with steps:
            for batch in steps:
                steps.report(run_batch(batch))
        return steps.records


def rephrase_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The shopper rephraser's options (``--shopper-llm``, ``--shopper-model``), or None."""
    if not getattr(args, "shopper_llm", None):
        return None
    if not args.shopper_model:
        raise ValueError("--shopper-llm needs --shopper-model (the model name the endpoint "
                         "serves)")
    return {"base_url": args.shopper_llm, "model": args.shopper_model}


_LLM_FLAGS = (("llm_base_url", "BASE_URL"), ("llm_model", "MODEL"),
              ("llm_api_key_env", "API_KEY_ENV"), ("llm_temperature", "TEMPERATURE"),
              ("llm_max_calls", "MAX_CALLS"), ("llm_max_tokens", "MAX_TOKENS"))


@contextlib.contextmanager
def llm_environment(args: argparse.Namespace) -> Iterator[None]:
    """The --llm-* options in the environment while the run lasts: ``LLMAgent.from_env``
    reads them, in this process and in the worker processes, which inherit them (Ray workers
    get them with the job); the variables are as they were afterwards, so the options of one
    run (``main`` called in a process) never hold for the next."""
    saved: dict[str, str | None] = {}
    for flag, var in _LLM_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            name = f"MCP_SHOP_LLM_{var}"
            saved.setdefault(name, os.environ.get(name))
            os.environ[name] = str(value)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def cmd_run(args: argparse.Namespace) -> int:
    """``shop-episodes run``: every option is checked before any work (the agent, the output
    file, the server options, the curriculum); Ctrl-C leaves every finished episode in the
    file and raises ``Interrupted`` saying how many."""
    with llm_environment(args):
        return _checked_run(args)


def _checked_run(args: argparse.Namespace) -> int:
    """``cmd_run`` with the --llm-* options in the environment."""
    if args.direct and (args.connect or args.stdio):
        raise ValueError("--direct calls the tools of this process's shop; it cannot be "
                         "combined with --connect or --stdio")
    if (args.connect or args.stdio) and (args.ray is not None or (args.workers or 1) > 1):
        flag = "--ray" if args.ray is not None else "--workers"
        raise ValueError(f"{flag} runs in-memory servers in each process; it cannot be "
                         "combined with --connect or --stdio")
    if args.ray is None:
        args.workers = args.workers or 1
    else:
        from episodes.ray_rollouts import import_ray

        import_ray()  # installed?
    agent = build_agent(args)
    check_out(args.out)
    rephrase_options(args)
    curriculum = open_curriculum(args)
    with contextlib.ExitStack() as stack:
        if args.ray is not None:  # the cluster reachable (before any work)
            from episodes.ray_rollouts import ray_session

            stack.enter_context(ray_session(args.ray))
        return _play(args, agent, curriculum)


def _play(args: argparse.Namespace, agent: Any, curriculum: Any) -> int:
    """``cmd_run``'s work once every option is checked: the tasks, the run, the summary."""
    shop = open_shop(args)
    writer = RolloutWriter(args.out, args.trials)

    def kept() -> str:
        return (f"; curriculum state saved to {curriculum.path}"
                if curriculum is not None and Path(curriculum.path).exists() else "")

    with writer.kept_on_ctrl_c(kept) as ctrl_c:
        return _play_and_report(args, agent, curriculum, shop, writer, ctrl_c)


def _play_and_report(args: argparse.Namespace, agent: Any, curriculum: Any, shop: Any,
                     writer: RolloutWriter, ctrl_c: output.CtrlC) -> int:
    """The run and its summary (the caller turns Ctrl-C into ``Interrupted``)."""
    tasks = task_list(args, shop) if curriculum is None else []
    started = time.perf_counter()
    if args.ray is not None:
        records = run_on_ray(args, tasks, writer, shop, curriculum)
    elif args.workers > 1:
        records = run_in_workers(args, tasks, writer, shop, curriculum)
    else:
        with ctrl_c.asyncio_owned():
            records = anyio.run(run_in_process, args, shop, tasks, writer, agent, curriculum)
    elapsed = time.perf_counter() - started
    writer.close()
    print_summary(summarize(records), f"{args.agent}: {len(records)} episodes in "
                  f"{elapsed:.1f} s ({len(records) / max(elapsed, 1e-9):.1f} episodes/s)")
    if args.trials > 1 and records:
        print_trials(records, args.trials)
    if curriculum is not None:
        print_windows(curriculum)
        output.err.print(f"Curriculum state saved to {curriculum.path}")
    if args.out:
        output.err.print(f"Rollouts written to {args.out}")
    return 0
