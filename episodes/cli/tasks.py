"""``shop-episodes tasks``: generated (or loaded) tasks as JSONL, written as they are made
(so Ctrl-C keeps those made so far), or the task JSON schema."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import IO, Any

from episodes.cli import output
from episodes.cli.options import check_out, iter_tasks, open_shop
from episodes.cli.output import Interrupted

__all__ = ["cmd_tasks"]


def _line(task: Any, form: str) -> str:
    if form == "trl":
        from episodes.trl_env import trl_rows

        return json.dumps(trl_rows([task])[0], ensure_ascii=False)
    return str(task.model_dump_json())


def _open(out: str | None, stack: contextlib.ExitStack) -> IO[str]:
    if not out:
        return sys.stdout
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return stack.enter_context(Path(out).open("w", encoding="utf-8"))


def cmd_tasks(args: argparse.Namespace) -> int:
    """``shop-episodes tasks``."""
    from verifiers.types import TaskSpec

    if args.schema:
        print(json.dumps(TaskSpec.model_json_schema(), indent=2))
        return 0
    if args.supported:
        from episodes.families.support import describe, shop_support

        for support in shop_support(open_shop(args)).values():
            print(describe(support))
        return 0
    check_out(args.out)
    shop = open_shop(args)
    noun = "rows" if args.format == "trl" else "tasks"
    where = args.out or "stdout"
    count = 0
    with contextlib.ExitStack() as stack:
        ctrl_c = stack.enter_context(output.watch_ctrl_c())
        fh: IO[str] | None = None
        try:
            for task in iter_tasks(args, shop):
                if fh is None:  # made with the first task: a bad option leaves no file
                    fh = _open(args.out, stack)
                fh.write(_line(task, args.format) + "\n")
                count += 1
        except BaseException as exc:
            if not ctrl_c.interrupted(exc):
                raise
            said = f"{count} {noun} written to {where}" if fh is not None else f"no {noun} written"
            raise Interrupted(said) from None
        finally:
            if fh is not None:
                fh.flush()
    if args.out:
        output.err.print(f"{count} {noun} written to {args.out}")
    return 0
