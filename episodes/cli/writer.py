"""The rollout file of a run: records written in task order as episodes finish (in any
order); on Ctrl-C, every finished episode still reaches the file."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from episodes.cli.output import CtrlC, Interrupted, ctrl_c_held, watch_ctrl_c
from episodes.records import Rollout

__all__ = ["RolloutWriter"]


class RolloutWriter:
    """Writes records to the rollout file (``out``; None: count them only) in task order as
    they finish, and moves the progress bar. The file is created by ``start``, once the run
    has connected, so a run that fails before leaves no file."""

    def __init__(self, out: str | None, trials: int) -> None:
        self.path = Path(out) if out else None
        self.fh: IO[str] | None = None
        self.created = False
        self.trials = trials
        self.order: dict[tuple[str, int], int] = {}
        self.fields: dict[str, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}
        self.next = 0  # the position of the next record in task order
        self.written = 0
        self.finished = 0
        self.successes = 0
        self.advance: Callable[[str], Any] = lambda note: None

    def start(self, tasks: Sequence[Any], advance: Callable[[str], Any]) -> None:
        """Create the file (and its directory), expect ``tasks``, report to ``advance``."""
        if self.path is not None and self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = self.path.open("w", encoding="utf-8")
            self.created = True
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
        with ctrl_c_held():  # the file and its counts never apart
            self.finished += 1
            self.successes += record["success"]
            self.pending[self.order[(record["task_id"], record["trial"])]] = record
            while self.next in self.pending:
                self._write(self.pending.pop(self.next))
                self.next += 1
        self.advance(f"success {self.successes}")

    def _write(self, record: dict[str, Any]) -> None:
        if self.fh is not None:
            self.fh.write(json.dumps(record, sort_keys=True) + "\n")  # one write, one line
            self.written += 1

    def close(self, *, interrupted: bool = False) -> None:
        """Close the file; ``interrupted``: first write the finished records still waiting
        for an earlier one (in task order, leaving out the episodes that did not finish)."""
        if interrupted:
            for position in sorted(self.pending):
                self._write(self.pending.pop(position))
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def saved(self) -> str:
        """What an interrupted run leaves: ``"N episodes written to FILE"`` or the like."""
        if self.path is None:
            return f"{self.finished} episodes finished (no --out file given)"
        if not self.created:
            return "no episode finished; nothing written"
        return f"{self.written} episodes written to {self.path}"

    @contextlib.contextmanager
    def kept_on_ctrl_c(self, also: Callable[[], str] | None = None) -> Iterator[CtrlC]:
        """The file closed at the end, whatever happens; on Ctrl-C (``watch_ctrl_c``) the
        finished records written first and ``Interrupted`` raised saying what was kept
        (``also()`` adds to it, e.g. where a curriculum's state went)."""
        with watch_ctrl_c() as ctrl_c:
            try:
                yield ctrl_c
            except BaseException as exc:
                if not ctrl_c.interrupted(exc):
                    raise
                self.close(interrupted=True)
                raise Interrupted(self.saved() + (also() if also else "")) from None
            finally:
                self.close()
