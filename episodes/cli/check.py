"""``shop-episodes check``: the oracle replays the gold solution of every generated task; any
task it does not solve is a generator bug."""

from __future__ import annotations

import argparse
import time

import anyio

from episodes.cli import output
from episodes.cli.options import check_out, open_shop
from episodes.cli.run import build_agent, run_in_process, run_in_workers
from episodes.cli.summary import print_summary, summarize
from episodes.cli.writer import RolloutWriter

__all__ = ["cmd_check"]


def cmd_check(args: argparse.Namespace) -> int:
    """Run the oracle on ``--seeds`` tasks per family and difficulty (in this process or in
    ``--workers`` processes, as ``run`` does); fail on any miss."""
    from episodes.difficulty import parse_difficulty_range
    from episodes.generate import generate_task
    from episodes.tasks import parse_families

    check_out(args.out)
    fams = parse_families(args.families)
    diffs = parse_difficulty_range(args.difficulty)
    run_args = argparse.Namespace(
        agent="oracle", connect=None, stdio=None, direct=False, keep_sessions=False,
        out=args.out, trials=1,
        concurrency=args.concurrency, workers=args.workers, reward_mode="sparse",
        db=args.db, catalog_seed=args.catalog_seed, catalog_size=args.catalog_size)
    agent = build_agent(run_args)
    shop = open_shop(args)
    from episodes.families.support import split_supported

    jobs, skipped = split_supported(shop, [(f, d, args.seed * 100_003 + s) for f in fams
                                           for d in diffs for s in range(args.seeds)])
    for note in skipped:
        output.err.print(note)
    writer = RolloutWriter(args.out, trials=1)
    with writer.kept_on_ctrl_c() as ctrl_c:
        tasks = []
        with output.Bar("Generating tasks", len(jobs)) as advance:
            for f, d, s in jobs:
                tasks.append(generate_task(shop, f, d, s))
                advance()
        started = time.perf_counter()
        if args.workers > 1:
            records = run_in_workers(run_args, tasks, writer)
        else:
            with ctrl_c.asyncio_owned():
                records = anyio.run(run_in_process, run_args, shop, tasks, writer,
                                    agent)
        elapsed = time.perf_counter() - started
    failed = [r for r in records if not r["success"]]
    print_summary([r for r in summarize(records) if r["family"] == "all" or args.verbose],
                  f"oracle check: {len(records)} tasks in {elapsed:.1f} s")
    for r in failed[:20]:
        reasons = "; ".join(c["reason"] for c in r["reward_components"] if c["value"] < 1)
        output.err.print(f"[red]UNSOLVED[/] {r['task_id']}: {r['stop_reason']}: {reasons}")
    if failed:
        output.err.print(f"[red]{len(failed)} of {len(records)} generated tasks were not solved "
                         "by their gold solution: each is a generator bug[/]")
        return 1
    output.console.print(f"Every one of {len(records)} tasks was solved by its gold solution.")
    return 0
