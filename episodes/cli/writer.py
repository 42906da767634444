"""The rollout file of a run: records written in task order as episodes finish (in any
order)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from episodes.records import Rollout

__all__ = ["RolloutWriter"]


class RolloutWriter:
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
