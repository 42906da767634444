"""The ``shop-episodes`` command: run agents on generated or hand-written tasks, export tasks,
check that every generated task is solvable.

    shop-episodes run --agent heuristic --families all --difficulty 0-5 --episodes 200 \\
        --concurrency 16 --seed 7 --out runs/demo.jsonl
    shop-episodes run --agent oracle --tasks examples/tasks/
    shop-episodes run --agent heuristic --trials 4 --episodes 50   # pass@k and pass^k
    shop-episodes run --agent heuristic --curriculum cur.json --episodes 500   # adaptive
    shop-episodes tasks --families all --difficulty 0-10 --episodes 500 --out tasks.jsonl
    shop-episodes tasks --schema                 # the task JSON schema
    shop-episodes records --schema               # the rollout record's JSON schema
    shop-episodes check --seeds 50 --difficulty 0-10   # the oracle must solve every task
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from episodes.argtypes import bounded_float, bounded_int
from episodes.export import add_export_command
from episodes.http_env import add_serve_env_command
from episodes.records import Rollout, add_records_command
from episodes.report import add_report_command
from mcp_shop.db import DEFAULT_DB_URL
from mcp_shop.errors import ShopError

__all__ = ["main", "summarize"]

console = Console()
err = Console(stderr=True)

DEFAULT_CATALOG_SIZE = 10_000
DEFAULT_DIFFICULTY = "0-5"


def _open_shop(args: argparse.Namespace) -> Any:
    from mcp_shop.cli import _open_shop as open_shop

    return open_shop(argparse.Namespace(db=args.db, seed=args.catalog_seed,
                                        size=args.catalog_size))


def _tasks(args: argparse.Namespace, shop: Any) -> list[Any]:
    from episodes.difficulty import parse_difficulty_range
    from episodes.tasks import load_task_set, parse_families, plan

    if args.tasks:
        return load_task_set(args.tasks, shop)
    from episodes.generate import generate_task

    fams = parse_families(args.families or "all")
    diffs = parse_difficulty_range(args.difficulty or DEFAULT_DIFFICULTY)
    jobs = plan(fams, diffs, args.episodes, args.seed or 0)
    out = []
    with _bar("Generating tasks", len(jobs)) as advance:
        for family, difficulty, seed in jobs:
            out.append(generate_task(shop, family, difficulty, seed))
            advance()
    return out


class _bar:  # noqa: N801 - used as a context manager
    def __init__(self, label: str, total: int) -> None:
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[note]}"), console=err)
        self.task = self.progress.add_task(label, total=total, note="")

    def __enter__(self) -> Any:
        self.progress.start()

        def advance(note: str = "") -> None:
            self.progress.update(self.task, advance=1, note=note)

        return advance

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (family, difficulty) and overall: episodes, success rate, mean reward, turns, calls."""
    cells: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        cells[(r["family"], r["difficulty"])].append(r)
        cells[("all", "all")].append(r)
    rows = []
    for (family, difficulty), rs in sorted(cells.items(), key=lambda kv: (
            kv[0][0] == "all", kv[0][0], str(kv[0][1]).zfill(3))):
        n = len(rs)
        rows.append({
            "family": family, "difficulty": difficulty, "episodes": n,
            "success_rate": sum(r["success"] for r in rs) / n,
            "mean_reward": sum(r["reward"] for r in rs) / n,
            "mean_turns": sum(r["metrics"]["turns"] for r in rs) / n,
            "mean_tool_calls": sum(r["metrics"]["tool_calls"] for r in rs) / n,
        })
    return rows


def _print_summary(rows: list[dict[str, Any]], title: str) -> None:
    table = Table("family", "difficulty", "episodes", "success", "mean reward", "turns",
                  "tool calls", title=title)
    for row in rows:
        table.add_row(row["family"], str(row["difficulty"]), str(row["episodes"]),
                      f"{row['success_rate']:.0%}", f"{row['mean_reward']:+.3f}",
                      f"{row['mean_turns']:.1f}", f"{row['mean_tool_calls']:.1f}")
    console.print(table)


async def _run(args: argparse.Namespace, shop: Any, tasks: list[Any],
               curriculum: Any = None) -> list[dict[str, Any]]:
    """Run ``tasks`` in this process (or, with a ``curriculum``, ``--episodes`` tasks it
    draws)."""
    from episodes.agents import make_agent
    from episodes.controller import EpisodeController

    agent = make_agent(args.agent)
    connect: Any = args.connect or (shlex.split(args.stdio) if args.stdio else None)
    async with contextlib.AsyncExitStack() as stack:
        try:  # connect before creating the output file
            options = _rephrase_options(args)
            rephraser = None
            if options is not None:
                from episodes.rephrase import ChatRephraser

                rephraser = ChatRephraser(options["base_url"], model=options["model"])
            controller = await stack.enter_async_context(EpisodeController(
                shop, connect=connect, reward_mode=args.reward_mode, rephraser=rephraser))
        except Exception as exc:  # noqa: BLE001 - any failure to connect is reported as one
            if connect is None:
                raise
            raise ConnectionError(f"cannot reach the shop server {args.connect or args.stdio!r}"
                                  f": {_root_cause(exc)}") from None
        return await _run_on(args, controller, agent, tasks, curriculum)


def _root_cause(exc: BaseException) -> str:
    """The innermost error of a (possibly grouped) connection failure, as text."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


class _Writer:
    """Writes records to the rollout file in task order as they finish (in any order), and
    moves the progress bar."""

    def __init__(self, args: argparse.Namespace, tasks: list[Any], advance: Any) -> None:
        out_path = Path(args.out) if args.out else None
        if out_path is not None:
            out_path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = out_path.open("w", encoding="utf-8") if out_path else None
        self.trials = args.trials
        self.order: dict[tuple[str, int], int] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}
        self.written = 0
        self.successes = 0
        self.advance = advance
        self.extend(tasks)

    def extend(self, tasks: Sequence[Any], fields: dict[str, dict[str, Any]] | None = None,
               ) -> None:
        """Expect ``tasks`` after those already expected; ``fields``: per task id, extra
        fields for its records (the curriculum's)."""
        base = len(self.order)
        for i, t in enumerate(tasks):
            for k in range(self.trials):
                self.order[(t.task_id, k)] = base + i * self.trials + k
        self.fields.update(fields or {})

    def __call__(self, record: dict[str, Any]) -> None:
        record.update(self.fields.get(record["task_id"], {}))
        record = Rollout.model_validate(record).to_record()  # what is written is a Rollout
        self.successes += record["success"]
        self.pending[self.order[(record["task_id"], record["trial"])]] = record
        while self.written in self.pending and self.fh is not None:
            self.fh.write(json.dumps(self.pending.pop(self.written), sort_keys=True) + "\n")
            self.written += 1
        self.advance(f"success {self.successes}")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


async def _run_on(args: argparse.Namespace, controller: Any, agent: Any, tasks: list[Any],
                  curriculum: Any = None) -> list[dict[str, Any]]:
    total = (len(tasks) if curriculum is None else args.episodes) * args.trials
    with _bar(f"Episodes ({agent.name})", total) as advance:
        writer = _Writer(args, tasks, advance)

        async def run_batch(batch: list[Any]) -> list[dict[str, Any]]:
            return await controller.run(agent, batch, concurrency=args.concurrency,
                                        trials=args.trials, on_done=writer)

        try:
            if curriculum is None:
                return await run_batch(tasks)
            steps = _CurriculumSteps(args, controller.shop, curriculum, writer)
            with steps:
                for batch in steps:
                    steps.report(await run_batch(batch))
            return steps.records
        finally:
            writer.close()


def _run_workers(args: argparse.Namespace, tasks: list[Any], shop: Any = None,
                 curriculum: Any = None) -> list[dict[str, Any]]:
    from episodes.agents import make_agent
    from episodes.parallel import WorkerPool

    make_agent(args.agent)  # an unknown agent fails here, before any process starts
    total = (len(tasks) if curriculum is None else args.episodes) * args.trials
    with WorkerPool(args.db, workers=args.workers, catalog_seed=args.catalog_seed,
                    catalog_size=args.catalog_size, rephrase=_rephrase_options(args)) as pool, \
            _bar(f"Episodes ({args.agent}, {pool.workers} processes)", total) as advance:
        writer = _Writer(args, tasks, advance)

        def run_batch(batch: list[Any]) -> list[dict[str, Any]]:
            return pool.run(args.agent, batch, trials=args.trials,
                            concurrency=args.concurrency, reward_mode=args.reward_mode,
                            on_done=writer)

        try:
            if curriculum is None:
                return run_batch(tasks)
            steps = _CurriculumSteps(args, shop, curriculum, writer)
            with steps:
                for batch in steps:
                    steps.report(run_batch(batch))
            return steps.records
        finally:
            writer.close()


class _CurriculumSteps:
    """``--episodes`` episodes drawn from a curriculum in batches: iterate to draw a batch (its
    tasks generated and expected by the writer), run it concurrently, then ``report`` its
    records (in task order, each task's trials in order: the draw order, so the run is
    deterministic for a given batch size). Leaving the ``with`` block saves the state (it is
    also saved after every check)."""

    def __init__(self, args: argparse.Namespace, shop: Any, curriculum: Any,
                 writer: _Writer) -> None:
        self.shop, self.curriculum, self.writer = shop, curriculum, writer
        self.size = args.curriculum_batch or args.concurrency * args.workers
        self.left = args.episodes
        self.records: list[dict[str, Any]] = []

    def __iter__(self) -> Iterator[list[Any]]:
        while self.left > 0:
            draws = [self.curriculum.next() for _ in range(min(self.size, self.left))]
            self.left -= len(draws)
            tasks = [d.task(self.shop) for d in draws]
            self.writer.extend(tasks, {t.task_id: {"curriculum": d.record_field()}
                                       for t, d in zip(tasks, draws, strict=True)})
            yield tasks

    def report(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self.curriculum.report(r["family"], r["difficulty"], bool(r["success"]))
        self.records.extend(records)

    def __enter__(self) -> _CurriculumSteps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.curriculum.save()


def _rephrase_options(args: argparse.Namespace) -> dict[str, Any] | None:
    if not getattr(args, "shopper_llm", None):
        return None
    if not args.shopper_model:
        raise ValueError("--shopper-llm needs --shopper-model (the model name the endpoint "
                         "serves)")
    return {"base_url": args.shopper_llm, "model": args.shopper_model}


_LLM_FLAGS = (("llm_base_url", "BASE_URL"), ("llm_model", "MODEL"),
              ("llm_api_key_env", "API_KEY_ENV"), ("llm_temperature", "TEMPERATURE"),
              ("llm_max_calls", "MAX_CALLS"), ("llm_max_tokens", "MAX_TOKENS"))


def _llm_options(args: argparse.Namespace) -> None:
    """Hand the --llm-* options to the llm agent through the environment, which worker
    processes inherit (``LLMAgent.from_env`` reads them)."""
    for flag, var in _LLM_FLAGS:
        value = getattr(args, flag, None)
        if value is not None:
            os.environ[f"MCP_SHOP_LLM_{var}"] = str(value)


def cmd_run(args: argparse.Namespace) -> int:
    _llm_options(args)
    if args.workers > 1 and (args.connect or args.stdio):
        raise ValueError("--workers runs in-memory servers in each process; it cannot be "
                         "combined with --connect or --stdio")
    curriculum = _open_curriculum(args)
    shop = _open_shop(args)
    tasks = _tasks(args, shop) if curriculum is None else []
    started = time.perf_counter()
    if args.workers > 1:
        records = _run_workers(args, tasks, shop, curriculum)
    else:
        records = anyio.run(_run, args, shop, tasks, curriculum)
    elapsed = time.perf_counter() - started
    _print_summary(summarize(records), f"{args.agent}: {len(records)} episodes in "
                   f"{elapsed:.1f} s ({len(records) / max(elapsed, 1e-9):.1f} episodes/s)")
    if args.trials > 1 and records:
        _print_trials(records, args.trials)
    if curriculum is not None:
        _print_windows(curriculum)
        err.print(f"Curriculum state saved to {curriculum.path}")
    if args.out:
        err.print(f"Rollouts written to {args.out}")
    return 0


def _open_curriculum(args: argparse.Namespace) -> Any:
    """The curriculum of ``--curriculum`` (resumed if its file exists), or None."""
    options = {"check_every": args.curriculum_check_every,
               "threshold": args.curriculum_threshold, "width": args.curriculum_width,
               "batch": args.curriculum_batch}
    if not args.curriculum:
        given = [k for k, v in options.items() if v is not None]
        if given:
            raise ValueError(f"--curriculum-{given[0].replace('_', '-')} needs --curriculum")
        return None
    if args.tasks:
        raise ValueError("--curriculum draws its own tasks; it cannot be combined with --tasks")
    if args.difficulty is not None:
        raise ValueError("--curriculum picks the difficulties; it cannot be combined with "
                         "--difficulty")
    from episodes.curriculum import Curriculum
    from episodes.tasks import parse_families

    families = parse_families(args.families) if args.families else None
    path = Path(args.curriculum)
    if families is None and not path.exists():
        families = parse_families("all")
    return Curriculum.open(path, families, check_every=args.curriculum_check_every,
                           threshold=args.curriculum_threshold, width=args.curriculum_width,
                           seed=args.seed)


def _print_trials(records: list[dict[str, Any]], k: int) -> None:
    """pass@k and pass^1..pass^k per family and overall."""
    from episodes.metrics import trial_summary

    rows = trial_summary(records, k)
    hats = [f"pass^{j}" for j in range(1, k + 1)]
    table = Table("family", "tasks", "trials", f"pass@{k}", *hats,
                  title=f"{k} trials per task: pass@{k} (any trial succeeds) and pass^j "
                  "(all of j trials succeed)")
    for row in rows:
        table.add_row(row["family"], str(row["tasks"]), str(row["trials"]),
                      f"{row['pass_at'][k]:.1%}",
                      *(f"{row['pass_hat'][j]:.1%}" for j in range(1, k + 1)))
    console.print(table)


def _print_windows(curriculum: Any) -> None:
    """Each family's window, its counters since the last check and its promotions."""
    checks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for check in curriculum.history:
        checks[check["family"]].append(check)
    table = Table("family", "window", "at h: ok/counted", "checks", "promotions",
                  "last promoted at", title=f"Curriculum windows after {curriculum.reported} "
                  f"episodes ({curriculum.drawn} tasks drawn; check every "
                  f"{curriculum.check_every} at h, threshold {curriculum.threshold:g}, width "
                  f"{curriculum.width})")
    for family in curriculum.families:
        low, high = curriculum.window(family)
        counted, successes = curriculum.counters(family)
        promoted = [c["episode"] for c in checks[family] if c["promoted"]]
        table.add_row(family, f"[{low}, {high}]", f"{successes}/{counted}",
                      str(len(checks[family])), str(len(promoted)),
                      str(promoted[-1]) if promoted else "-")
    console.print(table)


def cmd_tasks(args: argparse.Namespace) -> int:
    from verifiers.types import TaskSpec

    if args.schema:
        print(json.dumps(TaskSpec.model_json_schema(), indent=2))
        return 0
    shop = _open_shop(args)
    tasks = _tasks(args, shop)
    if args.format == "trl":
        from episodes.trl_env import trl_rows

        lines = [json.dumps(row, ensure_ascii=False) for row in trl_rows(tasks)]
    else:
        lines = [t.model_dump_json() for t in tasks]
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        err.print(f"{len(lines)} {'rows' if args.format == 'trl' else 'tasks'} written to "
                  f"{args.out}")
    else:
        for line in lines:
            print(line)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Run the oracle on ``--seeds`` tasks per family and difficulty; fail on any miss."""
    from episodes.difficulty import parse_difficulty_range
    from episodes.generate import generate_task
    from episodes.tasks import parse_families

    shop = _open_shop(args)
    fams = parse_families(args.families)
    diffs = parse_difficulty_range(args.difficulty)
    tasks = []
    jobs = [(f, d, args.seed * 100_003 + s) for f in fams for d in diffs
            for s in range(args.seeds)]
    with _bar("Generating tasks", len(jobs)) as advance:
        for f, d, s in jobs:
            tasks.append(generate_task(shop, f, d, s))
            advance()
    run_args = argparse.Namespace(agent="oracle", connect=None, stdio=None, out=args.out,
                                  trials=1, concurrency=args.concurrency, reward_mode="sparse")
    started = time.perf_counter()
    records = anyio.run(_run, run_args, shop, tasks)
    elapsed = time.perf_counter() - started
    failed = [r for r in records if not r["success"]]
    _print_summary([r for r in summarize(records) if r["family"] == "all" or args.verbose],
                   f"oracle check: {len(records)} tasks in {elapsed:.1f} s")
    for r in failed[:20]:
        reasons = "; ".join(c["reason"] for c in r["reward_components"] if c["value"] < 1)
        err.print(f"[red]UNSOLVED[/] {r['task_id']}: {r['stop_reason']}: {reasons}")
    if failed:
        err.print(f"[red]{len(failed)} of {len(records)} generated tasks were not solved by "
                  "their gold solution: each is a generator bug[/]")
        return 1
    console.print(f"Every one of {len(records)} tasks was solved by its gold solution.")
    return 0


def _add_shop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB_URL, help="shop database URL (default: "
                   f"{DEFAULT_DB_URL}; the catalog is generated on first use)")
    p.add_argument("--catalog-seed", type=int, default=0, help="catalog seed (default 0)")
    p.add_argument("--catalog-size", type=_positive, default=DEFAULT_CATALOG_SIZE,
                   help=f"products in the catalog (default {DEFAULT_CATALOG_SIZE:,})")


def _add_task_options(p: argparse.ArgumentParser, *, episodes: int) -> None:
    p.add_argument("--families", help="'all' (the default) or a comma-separated list")
    p.add_argument("--difficulty", help=f"e.g. 3, 0-5 or 1,4,7 (0 to 20; default "
                   f"{DEFAULT_DIFFICULTY})")
    p.add_argument("--episodes", type=_positive, default=episodes, help="how many tasks")
    p.add_argument("--seed", type=_non_negative, help="seed of the task mix (default 0)")
    p.add_argument("--tasks", help="a task file (.json/.jsonl) or a directory of them, "
                   "instead of generated tasks")


_positive = bounded_int(1, what="a positive integer")


_non_negative = bounded_int(0, what="an integer >= 0")


_rate = bounded_float(0.0, 1.0, what="a rate from 0 to 1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop-episodes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an agent on tasks and write rollouts")
    run.add_argument("--agent", default="heuristic", help="oracle, heuristic, random or llm")
    _add_task_options(run, episodes=60)
    run.add_argument("--concurrency", type=_positive, default=8)
    run.add_argument("--trials", type=_positive, default=1, help="runs per task")
    run.add_argument("--reward-mode", choices=["sparse", "shaped", "dense"], default="sparse")
    run.add_argument("--out", help="rollout JSONL file")
    run.add_argument("--connect", help="URL of a running mcp-shop HTTP server on the same "
                     "--db (default: an in-memory server)")
    run.add_argument("--stdio", help="command line of a stdio mcp-shop server on the same --db")
    run.add_argument("--workers", type=_positive, default=1, help="worker processes (one per "
                     "core helps: an episode is mostly Python); each runs --concurrency "
                     "episodes at a time")
    run.add_argument("--shopper-llm", metavar="URL", help="rephrase the shopper's messages "
                     "through this OpenAI-compatible endpoint (e.g. http://127.0.0.1:8001/v1; "
                     "API key from OPENAI_API_KEY); the rules still decide")
    run.add_argument("--shopper-model", help="the model name for --shopper-llm")
    llm = run.add_argument_group(
        "llm agent", "--agent llm: a model behind any OpenAI-compatible Chat Completions "
        "endpoint with tool calling (vLLM, SGLang, llama.cpp server, Ollama, hosted APIs)")
    llm.add_argument("--llm-base-url", metavar="URL", help="e.g. http://127.0.0.1:8000/v1 "
                     "(default: $MCP_SHOP_LLM_BASE_URL or $OPENAI_BASE_URL)")
    llm.add_argument("--llm-model", help="the model name the endpoint serves")
    llm.add_argument("--llm-api-key-env", metavar="VAR", help="the environment variable "
                     "holding the API key (default OPENAI_API_KEY; no key is sent when unset)")
    llm.add_argument("--llm-temperature", type=float, help="sampling temperature (default 0)")
    llm.add_argument("--llm-max-calls", type=_positive, metavar="N",
                     help="model requests per episode (default 60)")
    llm.add_argument("--llm-max-tokens", type=_positive, metavar="N",
                     help="tokens per episode, prompts included (default 500000)")
    cur = run.add_argument_group(
        "curriculum", "adaptive difficulty: per family a window [l, h] from [0, 0]; after "
        "--curriculum-check-every episodes at h, a success rate of at least the threshold "
        "raises h by one (and l to at least h - width + 1)")
    cur.add_argument("--curriculum", metavar="STATE.json", help="draw --episodes more tasks "
                     "from the curriculum saved in this file (created if missing; saved after "
                     "every check and at the end); --families and --seed set up a new file "
                     "(given for an existing one, they must match it)")
    cur.add_argument("--curriculum-check-every", type=_positive, metavar="N",
                     help="counted episodes (at d == h) per check (default 32)")
    cur.add_argument("--curriculum-threshold", type=_rate, metavar="RATE",
                     help="success rate at h that promotes (default 0.9)")
    cur.add_argument("--curriculum-width", type=_positive, metavar="W",
                     help="the widest window (default 4)")
    cur.add_argument("--curriculum-batch", type=_positive, metavar="B",
                     help="tasks drawn, run concurrently, then reported per step (default "
                     "--concurrency x --workers). Windows move only between batches, so a "
                     "run depends on it: a resumed run repeats an uninterrupted one exactly "
                     "when B is the same and each part's --episodes is a multiple of B")
    _add_shop_options(run)
    run.set_defaults(fn=cmd_run)

    tasks = sub.add_parser("tasks", help="export generated tasks as JSONL")
    _add_task_options(tasks, episodes=60)
    tasks.add_argument("--out", help="JSONL file (default: stdout)")
    tasks.add_argument("--schema", action="store_true", help="print the task JSON schema")
    tasks.add_argument("--format", choices=("tasks", "trl"), default="tasks",
                       help="tasks: TaskSpec JSONL (default); trl: dataset rows for "
                       "GRPOTrainer(environment_factory=ShopToolEnv), see episodes.trl_env")
    _add_shop_options(tasks)
    tasks.set_defaults(fn=cmd_tasks)

    check = sub.add_parser("check", help="the oracle must solve every generated task")
    check.add_argument("--families", default="all")
    check.add_argument("--difficulty", default="0-10")
    check.add_argument("--seeds", type=_positive, default=50, help="tasks per family and "
                       "difficulty")
    check.add_argument("--seed", type=_non_negative, default=0)
    check.add_argument("--concurrency", type=_positive, default=8)
    check.add_argument("--out", help="rollout JSONL of the check")
    check.add_argument("--verbose", action="store_true", help="a row per family and "
                       "difficulty")
    _add_shop_options(check)
    check.set_defaults(fn=cmd_check)
    add_records_command(sub)
    add_report_command(sub)
    add_export_command(sub)
    add_serve_env_command(sub)
    from episodes.audit import add_audit_command

    add_audit_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (ValueError, OSError, ShopError) as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    except BaseExceptionGroup as group:  # a failure inside a run: its endpoint, a bad task
        from episodes.agents.llm import LLMEndpointError

        failed, _ = group.split((LLMEndpointError, ShopError, ValueError))
        if failed is None:
            raise
        cause: BaseException = failed
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
        err.print(f"[red]error:[/] {cause}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
