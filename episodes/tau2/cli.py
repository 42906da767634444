"""``shop-episodes run --suite tau2-retail``: tau2 retail episodes from the command line.

    shop-episodes run --suite tau2-retail --tau2-path ~/src/tau2-bench --split test \\
        --agent oracle --trials 2 --out runs/tau2.jsonl
    shop-episodes run --suite tau2-retail --tau2-path PATH --agent llm --user llm \\
        --llm-base-url http://127.0.0.1:8000/v1 --llm-model M --user-llm-model M

The world is imported into ``--tau2-db`` (default: a SQLite file beside ``--out``, named
after it with ``.tau2.db``; without ``--out``, a temporary file removed at the end) once; a
database that already holds it is reused. Episodes reach the tau2 tools over MCP in memory
(``--direct``: the same server's tools without the protocol). ``--workers N`` spreads them
over N processes, ``--ray [ADDRESS]`` over a Ray cluster (``episodes.tau2.workers``); the
records are those of one process but for timing. The summary, pass^k and Ctrl-C behave as
for the shop's own tasks.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio

from episodes.cli import output
from episodes.cli.options import check_out
from episodes.cli.summary import print_summary, print_trials, summarize
from episodes.cli.writer import RolloutWriter

__all__ = ["SUITES", "add_tau2_options", "add_tau2_task_options", "check_suite_options",
           "cmd_run_suite", "play_tau2", "tau2_setup", "tau2_task_lines", "tau2_tasks",
           "user_factory"]

SUITES = ("shop", "tau2-retail")
_NATIVE_ONLY = (("tasks", "--tasks"), ("curriculum", "--curriculum"), ("connect", "--connect"),
                ("stdio", "--stdio"), ("shopper_llm", "--shopper-llm"),
                ("schema", "--schema"), ("supported", "--supported"))


def add_tau2_task_options(p: argparse.ArgumentParser, *, suite: bool = True,
                          ) -> argparse._ArgumentGroup:
    """``--suite`` (when ``suite``) and the options choosing tau2 tasks (``run``, ``tasks``,
    ``cross-eval``); the group, for more options."""
    if suite:
        p.add_argument("--suite", choices=SUITES, default="shop",
                       help="shop: this project's generated or given tasks (default); "
                       "tau2-retail: the tasks of a tau2-bench retail checkout (--tau2-path)")
    g = p.add_argument_group("tau2 retail", "tasks of a tau2-bench checkout, played on this "
                             "shop through tau2's tools")
    g.add_argument("--tau2-path", metavar="PATH", help="a tau2-bench checkout, its data "
                   "directory, or its data/tau2/domains/retail directory")
    g.add_argument("--split", help="the tasks of this split (train, test, base, ...; default: "
                   "every task)")
    g.add_argument("--task-ids", metavar="IDS", help="only these task ids, comma-separated "
                   "(e.g. 3,7 or tau2-retail/3)")
    return g


def add_tau2_options(p: argparse.ArgumentParser, *, suite: bool = True) -> None:
    """The tau2 options of ``run`` (``suite``: with ``--suite``) and ``cross-eval``."""
    g = add_tau2_task_options(p, suite=suite)
    g.add_argument("--user", choices=("scripted", "llm"), default="scripted",
                   help="the customer: scripted (deterministic, default) or llm (a model "
                   "plays the task's scenario: --user-llm-*)")
    g.add_argument("--user-llm-base-url", metavar="URL", help="the LLM user's endpoint "
                   "(default: the llm agent's, --llm-base-url)")
    g.add_argument("--user-llm-model", help="the LLM user's model (default: the llm agent's)")
    g.add_argument("--user-llm-api-key-env", metavar="VAR", help="the variable holding the "
                   "LLM user's API key (default OPENAI_API_KEY)")
    g.add_argument("--judge", choices=("none", "llm"), default="none",
                   help="NL assertions: none (reported not judged; the reward then covers "
                   "the judged components, default) or llm (a model judges them: "
                   "--judge-llm-*)")
    g.add_argument("--judge-llm-base-url", metavar="URL", help="the judge's endpoint "
                   "(default: the llm agent's)")
    g.add_argument("--judge-llm-model", help="the judge's model (default: the llm agent's)")
    g.add_argument("--judge-llm-api-key-env", metavar="VAR", help="the variable holding the "
                   "judge's API key (default OPENAI_API_KEY)")
    g.add_argument("--tau2-db", metavar="URL", help="the database the world is imported into "
                   "(default: a SQLite file beside --out named <out>.tau2.db, or a temporary "
                   "one without --out); never the shop's own --db")


def check_suite_options(args: argparse.Namespace) -> None:
    """Refuse the tau2 options without ``--suite tau2-retail``, and the shop's own task
    options (those ``args`` has) with it (``run``, ``tasks``)."""
    if args.suite != "tau2-retail":
        given = [flag for name, flag in (("tau2_path", "--tau2-path"), ("split", "--split"),
                                         ("task_ids", "--task-ids"), ("tau2_db", "--tau2-db"))
                 if getattr(args, name, None)]
        given += ["--user"] if getattr(args, "user", "scripted") != "scripted" else []
        given += ["--judge"] if getattr(args, "judge", "none") != "none" else []
        if given:
            raise ValueError(f"{', '.join(given)} applies to --suite tau2-retail only")
        return
    if not args.tau2_path:
        raise ValueError("--suite tau2-retail needs --tau2-path: a tau2-bench checkout (or "
                         "its data/tau2/domains/retail directory)")
    for name, flag in _NATIVE_ONLY:
        if getattr(args, name, None):
            raise ValueError(f"{flag} applies to the shop's own tasks, not to --suite "
                             "tau2-retail")
    if args.families or args.difficulty or getattr(args, "seed", None) is not None:
        raise ValueError("--families and --difficulty choose the shop's own tasks (--seed "
                         "their mix); with --suite tau2-retail choose tasks with --split and "
                         "--task-ids")


def cmd_run_suite(args: argparse.Namespace) -> int:
    """``run``: the shop's own tasks (``episodes.cli.run.cmd_run``) or tau2's."""
    check_suite_options(args)
    if args.suite != "tau2-retail":
        from episodes.cli.run import cmd_run

        return cmd_run(args)
    from episodes.cli.run import llm_environment

    with llm_environment(args):
        return _run_suite(args)


def _run_suite(args: argparse.Namespace) -> int:
    """``run --suite tau2-retail`` with the --llm-* options in the environment."""
    if args.ray is not None:
        from episodes.ray_rollouts import import_ray

        import_ray()  # installed?
    setup = tau2_setup(args)
    with contextlib.ExitStack() as stack:
        if args.ray is not None:  # the cluster reachable (before any work)
            from episodes.ray_rollouts import ray_session

            stack.enter_context(ray_session(args.ray))
        records, elapsed = play_tau2(args, *setup)
    _report(args, records, elapsed)
    return 0


def _client(args: argparse.Namespace, role: str, **overrides: Any) -> Any:
    """An ``LLMAgent`` used as the endpoint client of ``role`` (user, judge): its
    --ROLE-llm-* options, falling back to the llm agent's (--llm-*)."""
    from episodes.agents.llm import LLMAgent

    overrides["system_prompt"] = ""
    for option, key in (("base_url", "base_url"), ("model", "model"),
                        ("api_key_env", "api_key_env")):
        value = getattr(args, f"{role}_llm_{option}", None)
        if value:
            overrides[key] = value
    try:
        return LLMAgent.from_env(**overrides)
    except ValueError as exc:
        raise ValueError(f"--{role} llm: {exc} (or --{role}-llm-base-url / "
                         f"--{role}-llm-model for the {role} alone)") from None


def judge_of(args: argparse.Namespace) -> Any:
    """The NL-assertion judge ``--judge`` names, or None."""
    if getattr(args, "judge", "none") != "llm":
        return None
    from episodes.tau2.judge import NLJudge

    return NLJudge(_client(args, "judge", temperature=0.0))


def user_factory(args: argparse.Namespace) -> Any:
    """What makes each episode's user: the scripted user, or an LLM user (its client is an
    ``LLMAgent`` built from the --user-llm-* options, falling back to the agent's)."""
    from episodes.tau2.episode import scripted_users

    if getattr(args, "user", "scripted") != "llm":
        return scripted_users
    from episodes.tau2.users import LLMUser

    client = _client(args, "user")

    def make(task: Any, seed: int) -> Any:
        return LLMUser(task.task, client, seed=seed)

    return make


def tau2_tasks(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The world of ``--tau2-path`` and the tasks ``--split`` and ``--task-ids`` choose (a
    missing path, an unknown split or task id raise, naming what exists)."""
    from episodes.tau2.tasks import select_tasks
    from mcp_shop.tau2.loader import load_tau2_retail

    world = load_tau2_retail(args.tau2_path)
    ids = [i.strip() for i in args.task_ids.split(",") if i.strip()] if args.task_ids else None
    return world, select_tasks(world, split=args.split, ids=ids)


def tau2_task_lines(args: argparse.Namespace) -> Iterator[str]:
    """``shop-episodes tasks --suite tau2-retail``'s lines: a ``Tau2Task`` each (``--format``
    tasks or jsonl) or a ``tau2_rows`` row each (trl). Every option is checked before the
    first line."""
    import json

    from episodes.tau2.trl_env import tau2_rows

    check_suite_options(args)
    world, tasks = tau2_tasks(args)
    rows = tau2_rows(world, tasks) if args.format == "trl" else [t.to_json() for t in tasks]
    return (json.dumps(row, ensure_ascii=False) for row in rows)


def tau2_setup(args: argparse.Namespace) -> tuple[Any, Any, list[Any], Any]:
    """Every option checked before any work: (world, agent, tasks, users); the judge is
    checked too (``judge_of``) and made again where the run starts. The --llm-* options
    are read from the environment (``episodes.cli.run.llm_environment``)."""
    from episodes.tau2.agents import make_tau2_agent

    world, tasks = tau2_tasks(args)
    agent = make_tau2_agent(args.agent, world.policy)
    users = user_factory(args)
    judge_of(args)
    check_out(args.out)
    return world, agent, tasks, users


@contextlib.contextmanager
def _database(args: argparse.Namespace) -> Iterator[str]:
    """The URL the world goes into (see the module), and a temporary directory's cleanup."""
    if args.tau2_db:
        yield args.tau2_db
    elif args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{out.with_name(out.name + '.tau2.db')}"
    else:
        with tempfile.TemporaryDirectory(prefix="tau2-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'tau2.db'}"


def play_tau2(args: argparse.Namespace, world: Any, agent: Any, tasks: list[Any], users: Any,
              ) -> tuple[list[dict[str, Any]], float]:
    """Run ``agent`` on ``tasks`` (``--trials`` each), writing ``--out``; Ctrl-C keeps every
    finished episode and raises ``Interrupted`` saying how many."""
    from episodes.tau2.env import Tau2Env

    writer = RolloutWriter(args.out, args.trials)
    with _database(args) as url, writer.kept_on_ctrl_c() as ctrl_c:
        env = Tau2Env.open(world, url)
        output.err.print(f"tau2 retail world {env.key[:12]} in {url}", soft_wrap=True,
                         markup=False)
        started = time.perf_counter()
        if getattr(args, "ray", None) is not None or (getattr(args, "workers", None) or 1) > 1:
            env.shop.engine.dispose()  # the workers open the database themselves
            records = _run_in_pool(args, env, url, tasks, writer)
        else:
            with ctrl_c.asyncio_owned():
                records = anyio.run(_run, args, env, agent, tasks, users, writer)
        elapsed = time.perf_counter() - started
        env.shop.engine.dispose()
    return records, elapsed


def _run_in_pool(args: argparse.Namespace, env: Any, url: str, tasks: list[Any],
                 writer: RolloutWriter) -> list[dict[str, Any]]:
    """``tasks`` in ``--workers`` processes or on the Ray cluster of ``--ray``
    (``episodes.tau2.workers``), each record to ``writer`` in task order."""
    from episodes.cli.run import run_in_pool
    from episodes.tau2.workers import Tau2Spec, worker_options

    spec = Tau2Spec(url, world=env.world, options=worker_options(args))
    if getattr(args, "ray", None) is not None:
        from episodes.ray_rollouts import RayPool

        with RayPool(spec=spec, address=args.ray, workers=args.workers) as ray_pool:
            return run_in_pool(args, ray_pool, f"{ray_pool.workers} Ray workers", tasks,
                               writer)
    from episodes.parallel import WorkerPool

    with WorkerPool(spec=spec, workers=args.workers) as pool:
        return run_in_pool(args, pool, f"{pool.workers} processes", tasks, writer)


async def _run(args: argparse.Namespace, env: Any, agent: Any, tasks: list[Any], users: Any,
               writer: RolloutWriter) -> list[dict[str, Any]]:
    from episodes.tau2.episode import Tau2Runner

    async with Tau2Runner(env, users=users, connect="direct" if args.direct else None,
                          keep_sessions=args.keep_sessions, judge=judge_of(args)) as runner:
        with output.Bar(f"tau2 retail episodes ({agent.name})",
                        len(tasks) * args.trials) as advance:
            writer.start(tasks, advance)
            return await runner.run(agent, tasks, concurrency=args.concurrency,
                                    trials=args.trials, on_done=writer)


def tau2_scope_line(records: list[dict[str, Any]]) -> str:
    """How many episodes' rewards are tau2's own, and how many cover only the judged
    components."""
    own = sum(1 for r in records if r.get("tau2", {}).get("reward") is not None)
    rest = len(records) - own
    line = f"tau2 reward: {own} episode(s) judged in full"
    if rest:
        line += (f"; {rest} with NL assertions not judged (their reward is that of the "
                 "judged components only)")
    return line


def _report(args: argparse.Namespace, records: list[dict[str, Any]], elapsed: float) -> None:
    print_summary(summarize(records), f"{args.agent} on tau2 retail: {len(records)} episodes "
                  f"in {elapsed:.1f} s")
    if args.trials > 1 and records:
        print_trials(records, args.trials)
    output.err.print(tau2_scope_line(records), soft_wrap=True, markup=False)
    if args.out:
        output.err.print(f"Rollouts written to {args.out}")


