"""``shop-episodes report``: an HTML report of rollout files, in one self-contained file.

    shop-episodes report runs/*.jsonl --out report/ [--curriculum state.json ...]
        [--title T] [--examples 10]

The output folder holds ``index.html``, a single self-contained file (the plots embedded as
``data:`` URIs, styles inline, no scripts, nothing fetched: it works offline and can be mailed
or attached alone), and the same plots as PNG files, for slides and papers:

* success rate and mean reward by difficulty: a panel per family (and every family together),
  a line per policy with 95% intervals as error bars and the episodes behind each point;
* the reward distribution per policy: a bar per reward value (0 on its own), split into
  succeeded and failed episodes, with counts;
* the most common failure reasons of failed episodes, as short tags (``failure_tags``, read
  from the verifiers' reason codes), with counts;
* the curriculum's window over episodes for each family (from saved curriculum states), with
  a table of the final windows;

with a summary table per policy and family, a table by difficulty (success rate and n per
cell), a table of failure tags with counts, and example failed episodes with their failing
components, full conversation and tool trace.

Series are named by the records' ``policy``; a policy found in several files gets the file's
name added (``heuristic (run-a)``), so that two runs of one agent are compared, not merged.
The plots need matplotlib (``pip install 'mcp-shop[report]'``); everything else is stdlib.

This module reads the files and drives the rest: ``episodes.report_aggregate`` counts
(failure tags, cells), ``episodes.report_plots`` draws and ``episodes.report_html`` writes the
page.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from episodes.argtypes import bounded_int
from episodes.records import RecordError, parse_record
from episodes.report_aggregate import (
    Aggregate,
    FailureTag,
    ReportError,
    _series_names,
    aggregate,
    curriculum_window,
    failure_tags,
)
from episodes.report_html import page
from episodes.report_plots import (
    INSTALL_HINT,
    figure_by_difficulty,
    figure_curricula,
    figure_failures,
    figure_rewards,
    png,
    require_matplotlib,
)

__all__ = [
    "Aggregate",
    "FailureTag",
    "ReportError",
    "add_report_command",
    "aggregate",
    "build_report",
    "failure_tags",
    "load_curriculum",
    "read_rollouts",
]

DEFAULT_TITLE = "Shopping agent rollouts"


# -- reading -------------------------------------------------------------------------------


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    """The rollout files: each path as given, a directory as its ``*.jsonl`` files."""
    if not paths:
        raise ReportError("no rollout files given")
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise ReportError(f"{path}: a directory with no *.jsonl files in it")
            out += found
        elif not path.exists():
            raise ReportError(f"{path}: no such file")
        else:
            out.append(path)
    return out


def _check_record(record: Any, where: str) -> dict[str, Any]:
    """``record`` validated as a ``Rollout`` (``episodes.records``: the one check of a rollout
    record), in its JSON form."""
    try:
        return parse_record(record, where).to_record()
    except RecordError as exc:
        raise ReportError(str(exc)) from None


def read_rollouts(paths: Sequence[str | Path]) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """Every rollout record of ``paths`` (files, or directories of ``*.jsonl``) as (file,
    line number, record), each validated as a ``Rollout``; blank lines are skipped.
    Raises ``ReportError`` naming the file and line of anything unreadable or malformed."""
    for path in _expand(paths):
        try:
            fh = path.open(encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with fh:
            try:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    where = f"{path}:{number}"
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise ReportError(f"{where}: not valid JSON ({exc})") from None
                    yield path, number, _check_record(record, where)
            except UnicodeDecodeError as exc:
                raise ReportError(f"{path}: not UTF-8 text ({exc.reason})") from None
            except OSError as exc:
                raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_curriculum(path: str | Path) -> dict[str, Any]:
    """A saved curriculum state: ``{"windows": {family: {"l", "h", "counted", "successes"}},
    "history": [{"episode", "family", "l", "h", "rate", "promoted"}, ...]}`` as
    ``episodes.curriculum`` saves it (a window may also be ``[l, h]``; other keys are kept).
    Raises ``ReportError`` when the file cannot be read or has another shape."""
    path = Path(path)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(state, dict):
        raise ReportError(f"{path}: a curriculum state must be a JSON object")
    windows = state.get("windows", {})
    history = state.get("history")
    if not isinstance(windows, dict) or not isinstance(history, list):
        raise ReportError(f"{path}: not a curriculum state: expected 'windows' (an object) "
                          "and 'history' (a list)")
    for family, window in windows.items():
        if curriculum_window(window) is None:
            raise ReportError(f"{path}: windows[{family!r}] must be {{\"l\": int, \"h\": int, "
                              f"...}} or [l, h], not {json.dumps(window)[:80]}")
    for i, entry in enumerate(history):
        ok = (isinstance(entry, dict) and isinstance(entry.get("family"), str)
              and all(isinstance(entry.get(k), int | float) and not isinstance(entry.get(k), bool)
                      for k in ("episode", "h")))
        if not ok:
            raise ReportError(f"{path}: history entry {i} needs 'episode', 'family' and 'h'")
    return state


def _aggregate_files(paths: Sequence[str | Path], keep_examples: int) -> Aggregate:
    """Read the rollout files (one pass) into an ``Aggregate`` whose series are named by
    ``_series_names``."""
    keys: dict[tuple[str, Path], str] = {}

    def pairs() -> Iterator[tuple[str, dict[str, Any]]]:
        for path, _, record in read_rollouts(paths):
            source = (str(record.get("policy") or path.stem), path)
            key = keys.setdefault(source, f"#{len(keys)}")
            yield key, record

    agg = aggregate(pairs(), keep_examples=keep_examples)
    names = _series_names(keys)
    agg.rename({key: names[source] for source, key in keys.items()})
    return agg


# -- the report ----------------------------------------------------------------------------


def build_report(rollout_paths: Sequence[str | Path], out_dir: str | Path, *,
                 curriculum_paths: Sequence[str | Path] = (), title: str = DEFAULT_TITLE,
                 examples: int = 10) -> Path:
    """Write the report of ``rollout_paths`` (JSONL files, or directories of them) into
    ``out_dir`` (created if needed): ``index.html`` (plots embedded) and the plots as PNG
    files. Returns the path of
    ``index.html``. Raises ``ReportError`` on missing, unreadable or malformed input, on
    input without records, and when matplotlib is missing."""
    require_matplotlib()
    if examples < 0:
        raise ReportError("--examples must be 0 or more")
    inputs = _expand(rollout_paths)
    states = [(Path(p), load_curriculum(p)) for p in curriculum_paths]
    agg = _aggregate_files(inputs, keep_examples=max(examples, 1))
    if not agg.total:
        raise ReportError(f"no rollout records in {', '.join(str(p) for p in inputs)}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"{out}: cannot create the output directory: "
                          f"{exc.strerror or exc}") from None
    figures = {
        "success_by_difficulty": figure_by_difficulty(agg, "success_rate"),
        "reward_by_difficulty": figure_by_difficulty(agg, "mean_reward"),
        "rewards": figure_rewards(agg),
        "failures": figure_failures(agg),
        "curriculum": figure_curricula(states) if states else None,
    }
    plots: dict[str, bytes | None] = {}
    for name, fig in figures.items():
        target = out / f"{name}.png"
        if fig is None:
            plots[name] = None
            target.unlink(missing_ok=True)  # left by an earlier report into this folder
        else:
            data = png(fig)
            target.write_bytes(data)
            plots[name] = data
    index = out / "index.html"
    index.write_text(page(title, agg, plots, states, inputs, agg.examples(examples)),
                     encoding="utf-8")
    return index


# -- command line --------------------------------------------------------------------------


_non_negative = bounded_int(0, what="an integer >= 0")


def cmd_report(args: argparse.Namespace) -> int:
    """``shop-episodes report``: build the report; 2 with a message on bad input."""
    try:
        index = build_report(args.rollouts, args.out, curriculum_paths=args.curriculum or (),
                             title=args.title, examples=args.examples)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Report written to {index}", file=sys.stderr)
    return 0


def add_report_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report`` on a ``shop-episodes`` subparsers object; its ``fn`` returns the
    exit code."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="an HTML report with plots of rollout files",
        description="Write an HTML report of rollout JSONL files into a folder: index.html, "
                    "one self-contained file with the plots embedded (open it or send it "
                    "alone), and the plots as PNG files for slides. Needs matplotlib: "
                    f"{INSTALL_HINT}")
    p.add_argument("rollouts", nargs="+", help="rollout JSONL files (or directories of them)")
    p.add_argument("--out", required=True,
                   help="output folder (created if needed) for index.html and the PNG files")
    p.add_argument("--curriculum", action="append", metavar="STATE_JSON",
                   help="a saved curriculum state to plot (repeatable)")
    p.add_argument("--title", default=DEFAULT_TITLE, help="page title")
    p.add_argument("--examples", type=_non_negative, default=10,
                   help="example failed episodes to show (default 10)")
    p.set_defaults(fn=cmd_report)
    return p
