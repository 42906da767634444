"""``shop-episodes run --curriculum``: opening the curriculum the options name, drawing its
batches, and the table of its windows."""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.table import Table

from episodes.cli import output
from episodes.cli.writer import RolloutWriter

__all__ = ["CurriculumSteps", "open_curriculum", "print_windows"]


def open_curriculum(args: argparse.Namespace) -> Any:
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


class CurriculumSteps:
    """``--episodes`` episodes drawn from a curriculum in batches: iterate to draw a batch (its
    tasks generated and expected by the writer), run it concurrently, then ``report`` its
    records (in task order, each task's trials in order: the draw order, so the run is
    deterministic for a given batch size). Leaving the ``with`` block saves the state (it is
    also saved after every check)."""

    def __init__(self, args: argparse.Namespace, shop: Any, curriculum: Any,
                 writer: RolloutWriter) -> None:
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

    def __enter__(self) -> CurriculumSteps:
        return self

    def __exit__(self, *exc: object) -> None:
        self.curriculum.save()


def print_windows(curriculum: Any) -> None:
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
    output.console.print(table)
