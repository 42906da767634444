"""``shop-episodes tasks``: generated (or loaded) tasks as JSONL, written as they are made
(so Ctrl-C keeps those made so far), or the task JSON schema; with ``--suite tau2-retail``
the tasks of a tau2-bench checkout (``episodes.tau2.cli.tau2_task_lines``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
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
    """``shop-episodes tasks``: the shop's tasks, or a tau2 checkout's (``--suite
    tau2-retail``)."""
    from verifiers.types import TaskSpec

    if getattr(args, "suite", "shop") == "tau2-retail":
        from episodes.tau2.cli import tau2_task_lines

        check_out(args.out)
        return _write(args, tau2_task_lines(args))
    from episodes.tau2.cli import check_suite_options

    check_suite_options(args)
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
    return _write(args, (_line(task, args.format) for task in iter_tasks(args, shop)))


def _write(args: argparse.Namespace, lines: Iterator[str]) -> int:
    """Write ``lines`` to ``--out`` (default stdout) as they come: the file is made with the
    first line (a bad option leaves none); Ctrl-C keeps those written and raises
    ``Interrupted`` saying how many."""
    noun = "rows" if args.format == "trl" else "tasks"
    where = args.out or "stdout"
    count = 0
    with contextlib.ExitStack() as stack:
        ctrl_c = stack.enter_context(output.watch_ctrl_c())
        fh: IO[str] | None = None
        try:
            for line in lines:
                if fh is None:  # made with the first task: a bad option leaves no file
                    fh = _open(args.out, stack)
                fh.write(line + "\n")
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
