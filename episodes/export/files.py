"""Reading rollout files and reading and writing exported JSONL rows, with the file and
line of anything wrong."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from episodes.export.formats import ExportError
from episodes.report import ReportError, read_rollouts

__all__ = ["load_rollouts", "read_rows", "write_rows"]


def load_rollouts(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """The rollout records of ``paths`` (JSONL files, or directories of ``*.jsonl``) in file
    and line order. Raises ``ExportError`` naming the file and line of anything missing,
    unreadable or malformed (including tool-call arguments that are not a JSON object)."""
    records: list[dict[str, Any]] = []
    try:
        for _, _, record in read_rollouts(paths):  # each validated as a Rollout
            records.append(record)
    except ReportError as exc:
        raise ExportError(str(exc)) from None
    return records


def write_rows(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write rows as JSONL (UTF-8, one row a line), creating the parent directory; returns
    the number of rows."""
    path = Path(path)
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    except OSError as exc:
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return count


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of an exported JSONL file (blank lines skipped); ``ExportError`` with the file
    and line of anything that is not a JSON object."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ExportError(f"{path}:{number}: not valid JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise ExportError(f"{path}:{number}: expected a JSON object")
                rows.append(row)
    except OSError as exc:
        raise ExportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ExportError(f"{path}: not UTF-8 text ({exc.reason})") from None
    return rows
