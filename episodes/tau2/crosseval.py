"""``shop-episodes cross-eval``: one agent on this project's task families and on tau2
retail, with both environments' results side by side.

    shop-episodes cross-eval --agent oracle --tau2-path ~/src/tau2-bench --split test \\
        --families all --episodes 40 --trials 2 --out-dir runs/xeval

It runs ``--episodes`` generated tasks of ``--families`` on the shop (``--db``) and the tau2
tasks of ``--split`` / ``--task-ids`` (world in ``--tau2-db``), each ``--trials`` times, and
prints one table: per environment the episodes and tasks, the success rate, the mean reward,
pass^1..pass^k, tool calls, turns and failed tool calls per episode, and the share of tool
calls that failed. With ``--out-dir`` the rollouts go to ``shop.jsonl`` and
``tau2-retail.jsonl`` there. The agent must be one both environments know: ``oracle`` or
``llm`` (the LLM agent gets the shop's default prompt on the shop and tau2's policy on tau2).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from rich.table import Table

from episodes.cli import output
from episodes.cli.options import (
    add_shop_options,
    add_task_options,
    check_out,
    open_shop,
    positive,
    task_list,
)
from episodes.cli.output import Interrupted
from episodes.cli.parser import add_llm_options
from episodes.cli.writer import RolloutWriter
from episodes.tau2.cli import add_tau2_options, play_tau2, tau2_scope_line, tau2_setup

__all__ = ["add_cross_eval_command", "cmd_cross_eval", "environment_row", "print_side_by_side"]


def environment_row(records: Sequence[dict[str, Any]], k: int) -> dict[str, Any]:
    """One environment's figures over its rollout records (pass^j for j = 1..k)."""
    from episodes.metrics import trial_summary

    n = len(records)
    if n == 0:
        return {"episodes": 0, "tasks": 0}
    calls = sum(r["metrics"]["tool_calls"] for r in records)
    errors = sum(r["metrics"]["errors"] for r in records)
    overall = trial_summary(records, k)[-1]
    return {
        "episodes": n, "tasks": overall["tasks"],
        "success": sum(r["success"] for r in records) / n,
        "reward": sum(r["reward"] for r in records) / n,
        "pass_hat": overall["pass_hat"],
        "tool_calls": calls / n,
        "turns": sum(r["metrics"]["turns"] for r in records) / n,
        "errors": errors / n,
        "error_rate": errors / calls if calls else 0.0,
    }


def print_side_by_side(columns: dict[str, dict[str, Any]], k: int, title: str) -> None:
    """The figures of each environment (``environment_row``) as the columns of one table."""
    table = Table("", *columns, title=title)
    rows: list[tuple[str, Any]] = [
        ("episodes", lambda c: str(c["episodes"])),
        ("tasks", lambda c: str(c["tasks"])),
        ("success", lambda c: f"{c['success']:.1%}"),
        ("mean reward", lambda c: f"{c['reward']:+.3f}"),
        *((f"pass^{j}", lambda c, j=j: f"{c['pass_hat'][j]:.1%}") for j in range(1, k + 1)),
        ("tool calls / episode", lambda c: f"{c['tool_calls']:.1f}"),
        ("turns / episode", lambda c: f"{c['turns']:.1f}"),
        ("failed calls / episode", lambda c: f"{c['errors']:.2f}"),
        ("failed share of calls", lambda c: f"{c['error_rate']:.1%}"),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(c) if c["episodes"] else "-" for c in columns.values()))
    output.console.print(table)


def _play_shop(args: argparse.Namespace, agent: Any) -> list[dict[str, Any]]:
    """The shop's own tasks, run as ``shop-episodes run`` runs them in one process."""
    from episodes.cli.run import run_in_process

    shop = open_shop(args)
    tasks = task_list(args, shop)
    writer = RolloutWriter(args.out, args.trials)
    with output.watch_ctrl_c() as ctrl_c:
        try:
            with ctrl_c.asyncio_owned():
                records: list[dict[str, Any]] = anyio.run(run_in_process, args, shop, tasks,
                                                          writer, agent)
        except BaseException as exc:
            if not ctrl_c.interrupted(exc):
                raise
            writer.close(interrupted=True)
            raise Interrupted(f"the shop's tasks: {writer.saved()}") from None
        finally:
            writer.close()
    return records


def cmd_cross_eval(args: argparse.Namespace) -> int:
    """Check every option, run the shop's tasks, then tau2's, and print the table."""
    from episodes.agents import make_agent

    if not args.tau2_path:
        raise ValueError("cross-eval needs --tau2-path: a tau2-bench checkout (or its "
                         "data/tau2/domains/retail directory)")
    if args.agent not in ("oracle", "llm"):
        raise ValueError(f"cross-eval runs an agent both environments know: oracle or llm, "
                         f"not {args.agent!r}")
    out_dir = Path(args.out_dir) if args.out_dir else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"--out-dir {args.out_dir!r} is a file; name a directory")
        check_out(str(out_dir / "shop.jsonl"), "--out-dir")
    shop_args = argparse.Namespace(**{**vars(args), "out": str(out_dir / "shop.jsonl")
                                      if out_dir else None})
    tau2_args = argparse.Namespace(**{**vars(args), "out": str(out_dir / "tau2-retail.jsonl")
                                      if out_dir else None})
    world, tau2_agent, tau2_tasks, users = tau2_setup(tau2_args)  # checks the tau2 options
    shop_agent = make_agent(args.agent)
    started = time.perf_counter()
    shop_records = _play_shop(shop_args, shop_agent)
    tau2_records, _ = play_tau2(tau2_args, world, tau2_agent, tau2_tasks, users)
    elapsed = time.perf_counter() - started
    families = args.families or "all"
    chosen = [f"split {args.split}"] if args.split else []
    chosen += [f"tasks {args.task_ids}"] if args.task_ids else []
    split = ", ".join(chosen) or "every task"
    print_side_by_side(
        {f"shop ({families})": environment_row(shop_records, args.trials),
         f"tau2 retail ({split})": environment_row(tau2_records, args.trials)},
        args.trials, f"{args.agent}: {len(shop_records)} shop and {len(tau2_records)} tau2 "
        f"retail episodes in {elapsed:.1f} s")
    output.err.print(tau2_scope_line(tau2_records), soft_wrap=True, markup=False)
    if out_dir is not None:
        output.err.print(f"Rollouts written to {out_dir / 'shop.jsonl'} and "
                         f"{out_dir / 'tau2-retail.jsonl'}", soft_wrap=True, markup=False)
    return 0


def add_cross_eval_command(sub: Any) -> None:
    """Add ``cross-eval`` to a ``shop-episodes`` sub-parser set."""
    p = sub.add_parser("cross-eval", help="one agent on the shop's task families and on tau2 "
                       "retail, results side by side")
    p.add_argument("--agent", default="oracle", help="oracle (default) or llm")
    add_task_options(p, episodes=20)
    p.add_argument("--trials", type=positive, default=1, help="runs per task (pass^k)")
    p.add_argument("--concurrency", type=positive, default=8, metavar="N",
                   help="episodes played at once")
    p.add_argument("--direct", action="store_true", help="call the tools in process without "
                   "the MCP protocol (both environments)")
    p.add_argument("--keep-sessions", action="store_true", help="keep each episode's shop "
                   "session in its database")
    p.add_argument("--out-dir", metavar="DIR", help="write shop.jsonl and tau2-retail.jsonl "
                   "here")
    add_llm_options(p)
    add_shop_options(p)
    add_tau2_options(p, suite=False)
    p.set_defaults(fn=cmd_cross_eval, connect=None, stdio=None, reward_mode="sparse",
                   shopper_llm=None, shopper_model=None, workers=1, ray=None, curriculum=None)
