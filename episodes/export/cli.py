"""``shop-episodes export sft|dpo|kto``: the subcommand's options and what it prints (see
the package docstring for the rows)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from episodes.argtypes import bounded_float, bounded_int
from episodes.export.files import load_rollouts, write_rows
from episodes.export.formats import ExportError, Kind
from episodes.export.rows import (
    DEFAULT_MARGIN,
    DEFAULT_MAX_PAIRS,
    export_dpo,
    export_kto,
    export_sft,
)
from episodes.export.validation import validate

__all__ = ["add_export_command", "cmd_export"]


_number = bounded_float(what="a finite number")


_positive_number = bounded_float(0.0, what="a number above 0", above=True)


_positive_int = bounded_int(1, what="an integer >= 1")


def _summary(skipped: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in skipped.items())


def _nothing_to_write(kind: Kind, skipped: Counter[str], args: argparse.Namespace) -> str:
    """Why there are no rows, and for DPO what would give some."""
    said = f"no {kind} rows to write" + (f" ({_summary(skipped)})" if skipped
                                         else " (no episodes)")
    if kind != "dpo" or not skipped:
        return said
    why = (f"a DPO pair is two episodes of the same task whose rewards differ by at least "
           f"--margin {args.margin:g}, and no task here has two such rollouts")
    todo = ("run several trials per task (shop-episodes run --trials 4 ...), or pass the "
            "rollout files of two agents on the same tasks (e.g. runs/heuristic.jsonl "
            "runs/random.jsonl)")
    if any(reason.startswith("tasks without a reward gap") for reason in skipped):
        todo += f", or lower --margin (now {args.margin:g})"
    return f"{said}: {why}; {todo}"


def cmd_export(args: argparse.Namespace) -> int:
    """``shop-episodes export sft|dpo|kto``: write the rows and print what was read, written
    and left out (on stderr); 2 with a message on bad input or when there is nothing to
    write."""
    kind: Kind = args.kind
    skipped: Counter[str] = Counter()
    common: dict[str, Any] = dict(system_prompt=args.system_prompt, policies=args.policy,
                                  with_metadata=args.with_metadata, arguments=args.arguments,
                                  skipped=skipped)
    try:
        if Path(args.out).is_dir():  # before reading anything
            raise ExportError(f"--out {args.out!r} is a directory; name a file, e.g. "
                              f"{str(Path(args.out) / f'{kind}.jsonl')!r}")
        records = load_rollouts(args.rollouts)
        if kind == "sft":
            rows = export_sft(records, min_reward=args.min_reward,
                              require_success=not args.include_failures, **common)
        elif kind == "dpo":
            rows = export_dpo(records, margin=args.margin,
                              max_pairs_per_group=args.max_pairs_per_group, **common)
        else:
            rows = export_kto(records, threshold=args.threshold, **common)
        print(f"read {len(records)} episodes from {len(args.rollouts)} path(s)",
              file=sys.stderr)
        if skipped:
            print(f"left out: {_summary(skipped)}", file=sys.stderr)
        if not rows:
            raise ExportError(_nothing_to_write(kind, skipped, args))
        validate(rows, kind, arguments=args.arguments)
        written = write_rows(rows, args.out)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    extra = ""
    if kind == "kto":
        good = sum(1 for r in rows if r["label"])
        extra = f" ({good} desirable, {written - good} undesirable)"
    print(f"wrote {written} {kind} rows{extra} to {args.out}", file=sys.stderr)
    return 0


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("rollouts", nargs="+", help="rollout JSONL files (or directories of them)")
    p.add_argument("--out", required=True, help="the JSONL file to write")
    p.add_argument("--policy", action="append", metavar="NAME",
                   help="only episodes of this policy (repeatable; default: all)")
    p.add_argument("--system-prompt", metavar="TEXT",
                   help="put this system message first in every conversation")
    p.add_argument("--with-metadata", action="store_true",
                   help="add task, policy and reward columns (see the docs for the list)")
    p.add_argument("--arguments", choices=["dict", "json"], default="dict",
                   help="tool-call arguments as JSON objects (default; what chat templates "
                        "and TRL expect) or as JSON text (the OpenAI wire format)")
    p.set_defaults(fn=cmd_export)


def add_export_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``export`` (with the modes ``sft``, ``dpo`` and ``kto``) on a
    ``shop-episodes`` subparsers object; its ``fn`` returns the exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "export", help="training data for TRL (SFT, DPO, KTO) from rollout files",
        description="Write rollout episodes as JSONL in TRL's conversational formats: sft "
                    "(messages, tools), dpo (prompt, chosen, rejected, tools), kto (prompt, "
                    "completion, label, tools). Tool-call arguments are JSON objects.")
    modes = p.add_subparsers(dest="kind", required=True, metavar="{sft,dpo,kto}")
    sft = modes.add_parser("sft", help="successful episodes as conversations (SFTTrainer)")
    _common_options(sft)
    sft.add_argument("--min-reward", type=_number, default=0.0,
                     help="only episodes with at least this reward (default 0)")
    sft.add_argument("--include-failures", action="store_true",
                     help="do not require success (only --min-reward selects)")
    dpo = modes.add_parser("dpo", help="preference pairs of one task's episodes (DPOTrainer)")
    _common_options(dpo)
    dpo.add_argument("--margin", type=_positive_number, default=DEFAULT_MARGIN,
                     help=f"the least reward gap of a pair (default {DEFAULT_MARGIN:g})")
    dpo.add_argument("--max-pairs-per-group", type=_positive_int, default=DEFAULT_MAX_PAIRS,
                     metavar="N", help=f"pairs per task at most (default {DEFAULT_MAX_PAIRS})")
    kto = modes.add_parser("kto", help="episodes labelled good or bad (KTOTrainer)")
    _common_options(kto)
    kto.add_argument("--threshold", type=_number, metavar="R",
                     help="label = reward >= R (default: label = success)")
    return p
