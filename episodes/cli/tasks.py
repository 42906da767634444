"""``shop-episodes tasks``: generated (or loaded) tasks as JSONL, or the task JSON schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from episodes.cli import output
from episodes.cli.options import open_shop, task_list

__all__ = ["cmd_tasks"]


def cmd_tasks(args: argparse.Namespace) -> int:
    """``shop-episodes tasks``."""
    from verifiers.types import TaskSpec

    if args.schema:
        print(json.dumps(TaskSpec.model_json_schema(), indent=2))
        return 0
    shop = open_shop(args)
    tasks = task_list(args, shop)
    if args.format == "trl":
        from episodes.trl_env import trl_rows

        lines = [json.dumps(row, ensure_ascii=False) for row in trl_rows(tasks)]
    else:
        lines = [t.model_dump_json() for t in tasks]
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        output.err.print(f"{len(lines)} {'rows' if args.format == 'trl' else 'tasks'} written "
                         f"to {args.out}")
    else:
        for line in lines:
            print(line)
    return 0
