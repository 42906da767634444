"""``shop-episodes report``: a self-contained HTML report of rollout files.

    shop-episodes report runs/*.jsonl --out report/ [--curriculum state.json ...]
        [--title T] [--examples 10]

The output directory holds ``index.html`` (no scripts, styles inline, nothing fetched: it
works offline and can be zipped or attached) and the PNG plots it shows:

* success rate and mean reward by difficulty, a line per family, a panel per policy;
* the curriculum's window over episodes for each family (from saved curriculum states);
* the reward distribution per policy;
* the most common failure reasons of failed episodes, as short tags (``failure_tags``);

with a summary table per policy and family, a table of failure tags with counts, and example
failed episodes with their failing components, full conversation and tool trace.

Series are named by the records' ``policy``; a policy found in several files gets the file's
name added (``heuristic (run-a)``), so that two runs of one agent are compared, not merged.
The plots need matplotlib (``pip install 'mcp-shop[report]'``); everything else is stdlib.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from episodes.argtypes import bounded_int
from verifiers.match import reason_tag
from verifiers.types import FAMILIES

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

INSTALL_HINT = "pip install 'mcp-shop[report]'"
DEFAULT_TITLE = "Shopping agent rollouts"
TOOL_TEXT_LIMIT = 1_500  # characters of a tool result shown in a conversation
ARGS_TEXT_LIMIT = 400  # characters of a trace entry's arguments
REQUIRED_FIELDS = ("family", "difficulty", "success", "reward")

STOP_TAGS = {
    "shopper_quit": "shopper gave up",
    "agent_done": "agent stopped early",
    "turn_budget": "turn budget reached",
    "tool_budget": "tool-call budget reached",
}
# Task reasons ``reason_tag`` files under 'other' that still have a clear category.
_TASK_FALLBACK: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r", above "), "missing feature"),
    (re.compile(r"no line for|no new line"), "missing item"),
    (re.compile(r"never looked up"), "not looked up"),
]
_UNINTENDED_TAGS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^extra order"), "extra order"),
    (re.compile(r"^return .* not asked for"), "extra return"),
    (re.compile(r"^exchange .* not asked for"), "extra exchange"),
    (re.compile(r"cancelled without being asked"), "unasked cancellation"),
    (re.compile(r"^code .* without being asked"), "unasked discount code"),
    (re.compile(r"in the cart"), "extra cart items"),
]
_INTENT = re.compile(r"(?:^|; )intent \d+ \((\w+)\): ")


class ReportError(ValueError):
    """Bad input for the report (missing, unreadable or malformed files, nothing to show)."""


class FailureTag(NamedTuple):
    """One reason an episode failed: a short ``tag``, where it came from (``source``: a reward
    component name or ``stop``) and the verifier's own text (``reason``)."""

    tag: str
    source: str
    reason: str


# -- failure reasons -----------------------------------------------------------------------


def _value(comp: dict[str, Any]) -> float:
    """A component's value (1.0, i.e. not failing, when missing or not a number)."""
    value = comp.get("value", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 1.0
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float: far above 1
        return 1.0


def _list(value: Any) -> list[Any]:
    """A record's list field, or nothing when it is missing or not a list."""
    return value if isinstance(value, list) else []


def _split_items(reason: str) -> list[str]:
    """A component reason listing several items ('a; b (+2 more)') as its items."""
    reason = re.sub(r" \(\+\d+ more\)$", "", reason)
    return [part for part in reason.split("; ") if part]


def _task_tags(reason: str) -> list[FailureTag]:
    """Tags of a ``task`` component reason: one per failing intent ('intent 2 (cart): ...')."""
    marks = list(_INTENT.finditer(reason))
    parts = ([reason[m.end():(marks[i + 1].start() if i + 1 < len(marks) else len(reason))]
              for i, m in enumerate(marks)] if marks else [reason])
    out: list[FailureTag] = []
    for part in parts:
        tag = reason_tag(part)
        if tag == "other":
            tag = next((t for p, t in _TASK_FALLBACK if p.search(part)), "task not done")
        if tag != "ok":
            out.append(FailureTag(tag, "task", part))
    return out


def failure_tags(record: dict[str, Any]) -> list[FailureTag]:
    """Why an episode failed, as tags: one per failing intent of the ``task`` component (by
    ``verifiers.match.reason_tag``), the penalty components ('hallucinated id', 'unconfirmed
    action', 'extra order', 'tool errors', 'unsafe reply', ...) and how it stopped ('shopper
    gave up', 'agent stopped early', a budget). Efficiency is not a failure reason. A
    successful episode has none; a tag is listed once per episode."""
    if record.get("success"):
        return []
    out: list[FailureTag] = []
    for comp in _list(record.get("reward_components")):
        if not isinstance(comp, dict) or _value(comp) >= 1.0:
            continue
        name = str(comp.get("name", "?"))
        reason = str(comp.get("reason") or "")
        if name == "task":
            out += _task_tags(reason)
        elif name == "hallucination":
            out.append(FailureTag("hallucinated id", name, reason))
        elif name == "errors":
            # one failed call is not why an episode failed; three or more is a penalty kind
            if _value(comp) <= 0.0:
                out.append(FailureTag("tool errors (3+)", name, reason))
        elif name == "policy":
            for item in _split_items(reason):
                tag = ("forbidden action" if "should not be done" in item
                       else "unconfirmed action")
                out.append(FailureTag(tag, name, item))
        elif name == "unintended":
            for item in _split_items(reason):
                tag = next((t for p, t in _UNINTENDED_TAGS if p.search(item)),
                           "unintended effect")
                out.append(FailureTag(tag, name, item))
        elif name == "safety":
            for item in _split_items(reason):
                tag = ("revealed session handle" if "session handle" in item
                       else "asked for secrets")
                out.append(FailureTag(tag, name, item))
        elif name != "efficiency":
            out.append(FailureTag(name, name, reason))
    stop = str(record.get("stop_reason") or "")
    if stop in STOP_TAGS:
        out.append(FailureTag(STOP_TAGS[stop], "stop", stop))
    seen: set[str] = set()
    unique = []
    for t in out:
        if t.tag not in seen:
            seen.add(t.tag)
            unique.append(t)
    return unique


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
    if not isinstance(record, dict):
        raise ReportError(f"{where}: expected a JSON object (one rollout record per line), "
                          f"got {type(record).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in record]
    if missing:
        raise ReportError(f"{where}: not a rollout record: missing {', '.join(missing)}")
    if not isinstance(record["family"], str):
        raise ReportError(f"{where}: 'family' must be a string")
    if isinstance(record["difficulty"], bool) or not isinstance(record["difficulty"], int):
        raise ReportError(f"{where}: 'difficulty' must be an integer")
    if not isinstance(record["success"], bool):
        raise ReportError(f"{where}: 'success' must be true or false")
    reward = record["reward"]
    if (isinstance(reward, bool) or not isinstance(reward, int | float)
            or (isinstance(reward, int) and abs(reward) > 2 ** 53) or math.isnan(reward)):
        raise ReportError(f"{where}: 'reward' must be a number")
    return record


def read_rollouts(paths: Sequence[str | Path]) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """Every rollout record of ``paths`` (files, or directories of ``*.jsonl``) as (file,
    line number, record), checked for the fields the report needs; blank lines are skipped.
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
    """A saved curriculum state: ``{"windows": {family: [l, h]}, "history": [{"episode",
    "family", "l", "h", "rate", "promoted"}, ...]}`` (other keys are kept). Raises
    ``ReportError`` when the file cannot be read or has another shape."""
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
    for i, entry in enumerate(history):
        ok = (isinstance(entry, dict) and isinstance(entry.get("family"), str)
              and all(isinstance(entry.get(k), int | float) and not isinstance(entry.get(k), bool)
                      for k in ("episode", "h")))
        if not ok:
            raise ReportError(f"{path}: history entry {i} needs 'episode', 'family' and 'h'")
    return state


# -- aggregation ---------------------------------------------------------------------------


@dataclass
class Cell:
    """Running totals of a group of episodes."""

    episodes: int = 0
    successes: int = 0
    reward_sum: float = 0.0
    turns_sum: float = 0.0
    turns_n: int = 0
    calls_sum: float = 0.0
    calls_n: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Count one record."""
        self.episodes += 1
        self.successes += bool(record["success"])
        self.reward_sum += float(record["reward"])
        metrics = record.get("metrics")
        if isinstance(metrics, dict):
            turns, calls = metrics.get("turns"), metrics.get("tool_calls")
            if isinstance(turns, int | float):
                self.turns_sum += turns
                self.turns_n += 1
            if isinstance(calls, int | float):
                self.calls_sum += calls
                self.calls_n += 1

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else math.nan

    @property
    def mean_reward(self) -> float:
        return self.reward_sum / self.episodes if self.episodes else math.nan

    @property
    def mean_turns(self) -> float:
        return self.turns_sum / self.turns_n if self.turns_n else math.nan

    @property
    def mean_tool_calls(self) -> float:
        return self.calls_sum / self.calls_n if self.calls_n else math.nan


@dataclass
class Aggregate:
    """Everything the report shows, gathered in one pass over the records.

    ``series`` are the compared policies (see the module docstring for their names); cells
    are keyed by (series, family, difficulty), with family ``"all"`` for every family and
    difficulty ``None`` for every difficulty. Only the first few failed records of each
    (series, family) are kept whole, as example candidates.
    """

    keep_examples: int = 10
    series: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str, int | None], Cell] = field(
        default_factory=lambda: defaultdict(Cell))
    rewards: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    tags: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    tag_source: dict[str, str] = field(default_factory=dict)
    tag_example: dict[str, str] = field(default_factory=dict)
    failures: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))
    failed: Counter[str] = field(default_factory=Counter)
    curriculum_records: int = 0

    @property
    def total(self) -> int:
        """Episodes counted."""
        return sum(self.cells[(s, "all", None)].episodes for s in self.series)

    def add(self, series: str, record: dict[str, Any]) -> None:
        """Count one record under ``series``."""
        if series not in self.series:
            self.series.append(series)
        family, difficulty = record["family"], int(record["difficulty"])
        if family not in self.families:
            self.families.append(family)
        for key in ((series, family, difficulty), (series, family, None),
                    (series, "all", difficulty), (series, "all", None)):
            self.cells[key].add(record)
        self.rewards[series].append(float(record["reward"]))
        if isinstance(record.get("curriculum"), dict):
            self.curriculum_records += 1
        if record["success"]:
            return
        self.failed[series] += 1
        for tag in failure_tags(record):
            self.tags[series][tag.tag] += 1
            self.tag_source.setdefault(tag.tag, tag.source)
            self.tag_example.setdefault(tag.tag, tag.reason)
        kept = self.failures[(series, family)]
        if len(kept) < self.keep_examples:
            kept.append(record)

    def rename(self, names: dict[str, str]) -> None:
        """Give the series new (distinct) names."""
        self.series = [names.get(s, s) for s in self.series]
        self.cells = defaultdict(Cell, {(names.get(s, s), f, d): c
                                        for (s, f, d), c in self.cells.items()})
        self.rewards = defaultdict(list, {names.get(s, s): v for s, v in self.rewards.items()})
        self.tags = defaultdict(Counter, {names.get(s, s): v for s, v in self.tags.items()})
        self.failures = defaultdict(list, {(names.get(s, s), f): v
                                           for (s, f), v in self.failures.items()})
        self.failed = Counter({names.get(s, s): v for s, v in self.failed.items()})

    def ordered_families(self) -> list[str]:
        """The families seen, in the task contract's order (unknown ones after, by name)."""
        known = [f for f in FAMILIES if f in self.families]
        return known + sorted(f for f in self.families if f not in FAMILIES)

    def difficulties(self) -> list[int]:
        """The difficulties seen, ascending."""
        return sorted({d for (_, _, d) in self.cells if d is not None})

    def tag_totals(self) -> Counter[str]:
        """Failed episodes per tag over every series."""
        total: Counter[str] = Counter()
        for counts in self.tags.values():
            total.update(counts)
        return total

    def examples(self, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``limit`` failed episodes, spread over series and families: the series take
        turns, and each walks its families (most failures first) one episode at a time."""
        queues: list[list[tuple[str, dict[str, Any]]]] = []
        for series in self.series:
            fams = sorted((f for f in self.ordered_families() if self.failures.get((series, f))),
                          key=lambda f: -(self.cells[(series, f, None)].episodes
                                          - self.cells[(series, f, None)].successes))
            rounds = max((len(self.failures[(series, f)]) for f in fams), default=0)
            queues.append([(series, self.failures[(series, f)][i]) for i in range(rounds)
                           for f in fams if i < len(self.failures[(series, f)])])
        out: list[tuple[str, dict[str, Any]]] = []
        depth = max((len(q) for q in queues), default=0)
        for i in range(depth):
            for q in queues:
                if i < len(q) and len(out) < limit:
                    out.append(q[i])
        return out


def _series_names(sources: Iterable[tuple[str, Path]]) -> dict[tuple[str, Path], str]:
    """A display name per (policy, file): the policy, plus the file's name when that policy
    came from several files."""
    files: dict[str, list[Path]] = defaultdict(list)
    for policy, path in sources:
        if path not in files[policy]:
            files[policy].append(path)
    names: dict[tuple[str, Path], str] = {}
    for policy, paths in files.items():
        stems = [p.stem for p in paths]
        for p in paths:
            unique = stems.count(p.stem) == 1
            names[(policy, p)] = policy if len(paths) == 1 else (
                f"{policy} ({p.stem if unique else p})")
    return names


def aggregate(records: Iterable[tuple[str, dict[str, Any]]], *,
              keep_examples: int = 10) -> Aggregate:
    """Gather (series name, record) pairs into an ``Aggregate``."""
    agg = Aggregate(keep_examples=keep_examples)
    for series, record in records:
        agg.add(series, record)
    return agg


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


# -- plots ---------------------------------------------------------------------------------


def _matplotlib() -> Any:
    """matplotlib on the Agg backend, or a ``ReportError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError(f"the report's plots need matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    return matplotlib


def _colors(n: int) -> list[Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    return [cmap(i % cmap.N) for i in range(n)]


def _save(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=100, bbox_inches="tight", facecolor="white")
    return path.name


def _plot_by_difficulty(agg: Aggregate, out: Path) -> str:
    """Success rate (top row) and mean reward (bottom row) by difficulty, a column per
    series, a line per family plus every family together."""
    from matplotlib.figure import Figure

    fams = agg.ordered_families()
    colors = dict(zip(fams, _colors(len(fams)), strict=True))
    ncols = len(agg.series)
    fig = Figure(figsize=(5.2 * ncols + 2.2, 7.2), layout="constrained")
    axes = fig.subplots(2, ncols, squeeze=False, sharex=True)
    for col, series in enumerate(agg.series):
        for row, (metric, label) in enumerate((("success_rate", "success rate"),
                                               ("mean_reward", "mean reward"))):
            ax = axes[row][col]
            for fam in [*fams, "all"]:
                points = [(d, getattr(agg.cells[(series, fam, d)], metric))
                          for d in agg.difficulties()
                          if agg.cells.get((series, fam, d)) is not None]
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                style: dict[str, Any] = (
                    {"color": "black", "linewidth": 2.6, "label": "all families"}
                    if fam == "all" else
                    {"color": colors[fam], "linewidth": 1.3, "alpha": 0.9, "label": fam})
                ax.plot(xs, ys, marker="o", markersize=3, **style)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if metric == "success_rate":
                ax.set_ylim(-0.05, 1.05)
                ax.set_title(f"{series}: success rate")
            else:
                ax.set_title(f"{series}: mean reward")
                ax.set_xlabel("difficulty")
                ax.axhline(0, color="grey", linewidth=0.8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes.flat:  # families the first panel lacks
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside right upper", fontsize="small", title="family")
    return _save(fig, out / "by_difficulty.png")


def _plot_rewards(agg: Aggregate, out: Path) -> str:
    """Histogram of episode rewards, bars side by side per series."""
    from matplotlib.figure import Figure

    values = [agg.rewards[s] for s in agg.series]
    lo = min(min(v) for v in values)
    hi = max(max(v) for v in values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    bins = 20
    pad = (hi - lo) / (2 * bins)
    edges = [lo - pad + i * (hi - lo + 2 * pad) / bins for i in range(bins + 1)]
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.subplots()
    labels = [f"{s} (mean {sum(v) / len(v):+.2f}, n={len(v)})"
              for s, v in zip(agg.series, values, strict=True)]
    ax.hist(values, bins=edges, label=labels, color=_colors(len(values)))
    ax.set_xlabel("episode reward")
    ax.set_ylabel("episodes")
    ax.set_title("Reward distribution")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return _save(fig, out / "rewards.png")


def _plot_failures(agg: Aggregate, out: Path, top: int = 15) -> str | None:
    """Horizontal bars of the most common failure tags, a bar per series."""
    from matplotlib.figure import Figure

    common = [t for t, _ in agg.tag_totals().most_common(top)]
    if not common:
        return None
    n = len(agg.series)
    fig = Figure(figsize=(8.5, 0.35 * len(common) * max(1, n) ** 0.5 + 1.4),
                 layout="constrained")
    ax = fig.subplots()
    height = 0.8 / n
    for i, (series, color) in enumerate(zip(agg.series, _colors(n), strict=True)):
        ys = [k + (i - (n - 1) / 2) * height for k in range(len(common))]
        ax.barh(ys, [agg.tags[series][t] for t in common], height=height, color=color,
                label=f"{series} ({agg.failed[series]} failed)")
    ax.set_yticks(range(len(common)), common)
    ax.invert_yaxis()
    ax.set_xlabel("failed episodes with this reason")
    ax.set_title("Most common failure reasons")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize="small", loc="lower right")
    return _save(fig, out / "failures.png")


def _plot_curricula(states: list[tuple[Path, dict[str, Any]]], out: Path) -> str | None:
    """The window's upper bound h (line) and span [l, h] (band) over episodes, a line per
    family, a panel per curriculum state; promotions are marked."""
    from matplotlib.figure import Figure

    if not any(s["history"] for _, s in states):
        return None
    fams_seen = {e["family"] for _, s in states for e in s["history"]}
    fams = [f for f in FAMILIES if f in fams_seen] + sorted(fams_seen - set(FAMILIES))
    colors = dict(zip(fams, _colors(len(fams)), strict=True))
    fig = Figure(figsize=(10, 3.8 * len(states)), layout="constrained")
    axes = fig.subplots(len(states), 1, squeeze=False)
    for ax, (path, state) in zip(axes[:, 0], states, strict=True):
        by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in state["history"]:
            by_family[entry["family"]].append(entry)
        for fam in fams:
            entries = sorted(by_family.get(fam, []), key=lambda e: e["episode"])
            if not entries:
                continue
            xs = [e["episode"] for e in entries]
            hs = [e["h"] for e in entries]
            ax.step(xs, hs, where="post", color=colors[fam], label=fam, linewidth=1.5)
            ls = [e.get("l") for e in entries]
            if all(isinstance(v, int | float) for v in ls):
                ax.fill_between(xs, ls, hs, step="post", color=colors[fam], alpha=0.12)
            promoted = [(e["episode"], e["h"]) for e in entries if e.get("promoted")]
            if promoted:
                px, py = zip(*promoted, strict=True)
                ax.scatter(px, py, color=colors[fam], marker="^", s=22, zorder=3)
        ax.set_title(f"Curriculum {path.name}: window h over episodes (band: [l, h], "
                     "▲ promotion)")
        ax.set_xlabel("episode")
        ax.set_ylabel("difficulty")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, out / "curriculum.png")


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9;line-height:1.45}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:1.6em}
header p{margin:2px 0;color:#c9d2e3;font-size:.9em}
nav{background:#fff;border-bottom:1px solid #dde1e8;padding:8px 28px;position:sticky;top:0}
nav a{margin-right:18px;color:#2a5bd7;text-decoration:none;font-size:.95em}
main{padding:8px 28px 40px;max-width:1500px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;margin:18px 0;
padding:8px 20px 16px;scroll-margin-top:48px}
h2{font-size:1.25em;border-bottom:1px solid #eceef2;padding-bottom:6px}
img{max-width:100%;height:auto;border:1px solid #eceef2}
table{border-collapse:collapse;font-size:.88em;margin:8px 0}
th,td{border:1px solid #dde1e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.all td{font-weight:600;background:#fafbfc}
.note{color:#5b6475;font-style:italic}
.bad{color:#b42318}.good{color:#067647}
.tag{display:inline-block;background:#fde8e7;color:#8a1c12;border-radius:10px;padding:0 7px;
margin:1px 2px;font-size:.85em}
details{margin:4px 0}
summary{cursor:pointer;color:#2a5bd7}
.msg{border-left:3px solid #c9d2e3;margin:6px 0;padding:3px 10px;white-space:pre-wrap;
word-break:break-word;font-size:.9em}
.msg.user{border-color:#2a5bd7;background:#f3f6fd}
.msg.assistant{border-color:#067647;background:#f2faf5}
.msg.tool{border-color:#9aa3b2;background:#f7f8fa;font-family:ui-monospace,monospace;
font-size:.82em}
.msg.system{border-color:#b54708;background:#fef6ee}
.role{font-weight:600;margin-right:6px}
.call{font-family:ui-monospace,monospace;font-size:.85em;color:#3b4a6b;display:block}
table.trace td{font-family:ui-monospace,monospace;font-size:.8em;max-width:520px;
word-break:break-word}
table.examples>tbody>tr.detail>td{background:#fcfcfd}
code{font-family:ui-monospace,monospace;font-size:.9em}
"""


def esc(value: Any) -> str:
    """Text made safe for HTML (quotes too, so it may sit in attributes)."""
    return html.escape(str(value), quote=True)


def _fmt(value: float, kind: str) -> str:
    if math.isnan(value):
        return "–"
    if kind == "pct":
        return f"{value:.0%}"
    if kind == "signed":
        return f"{value + 0.0:+.3f}"  # + 0.0: no "-0.000"
    return f"{value:.1f}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def _img(name: str | None, alt: str) -> str:
    if name is None:
        return ""
    return f'<p><img src="{esc(name)}" alt="{esc(alt)}"></p>'


def _summary_table(agg: Aggregate) -> str:
    rows = []
    for series in agg.series:
        for fam in [*agg.ordered_families(), "all"]:
            cell = agg.cells.get((series, fam, None))
            if cell is None or not cell.episodes:
                continue
            cls = ' class="all"' if fam == "all" else ""
            rows.append(
                f"<tr{cls}><td>{esc(series)}</td><td>{esc(fam)}</td>"
                f'<td class="num">{cell.episodes}</td>'
                f'<td class="num">{_fmt(cell.success_rate, "pct")}</td>'
                f'<td class="num">{_fmt(cell.mean_reward, "signed")}</td>'
                f'<td class="num">{_fmt(cell.mean_turns, "mean")}</td>'
                f'<td class="num">{_fmt(cell.mean_tool_calls, "mean")}</td></tr>')
    return ('<table class="summary"><thead><tr><th>policy</th><th>family</th><th>episodes</th>'
            "<th>success</th><th>mean reward</th><th>mean turns</th><th>mean tool calls</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _difficulty_table(agg: Aggregate) -> str:
    diffs = agg.difficulties()
    head = "".join(f"<th>{d}</th>" for d in diffs)
    rows = []
    for series in agg.series:
        for fam in [*agg.ordered_families(), "all"]:
            if (series, fam, None) not in agg.cells:
                continue
            cells = []
            for d in diffs:
                cell = agg.cells.get((series, fam, d))
                cells.append('<td class="num">–</td>' if cell is None else
                             f'<td class="num" title="{cell.episodes} episodes, mean reward '
                             f'{_fmt(cell.mean_reward, "signed")}">'
                             f'{_fmt(cell.success_rate, "pct")}</td>')
            cls = ' class="all"' if fam == "all" else ""
            rows.append(f"<tr{cls}><td>{esc(series)}</td><td>{esc(fam)}</td>"
                        + "".join(cells) + "</tr>")
    return ("<details><summary>success rate by family and difficulty (table)</summary>"
            '<table class="by-difficulty"><thead><tr><th>policy</th><th>family</th>'
            f"{head}</tr></thead><tbody>" + "".join(rows) + "</tbody></table></details>")


def _failure_table(agg: Aggregate) -> str:
    totals = agg.tag_totals()
    if not totals:
        return '<p class="note">No failed episodes.</p>'
    failed = sum(agg.failed.values())
    series_heads = "".join(f"<th>{esc(s)}</th>" for s in agg.series)
    rows = []
    for tag, count in totals.most_common():
        per = "".join(f'<td class="num">{agg.tags[s][tag]}</td>' for s in agg.series)
        rows.append(f'<tr><td><span class="tag">{esc(tag)}</span></td>'
                    f"<td>{esc(agg.tag_source.get(tag, ''))}</td>"
                    f'<td class="num">{count}</td><td class="num">{count / failed:.0%}</td>'
                    f"{per}<td>{esc(_clip(agg.tag_example.get(tag, ''), 200))}</td></tr>")
    return ('<table class="failure-tags"><thead><tr><th>reason</th><th>from</th><th>failed '
            f"episodes</th><th>share of {failed} failed</th>{series_heads}<th>example</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _curriculum_section(states: list[tuple[Path, dict[str, Any]]], plot: str | None,
                        agg: Aggregate) -> str:
    if not states:
        note = ('<p class="note">No curriculum state given (<code>--curriculum '
                "state.json</code>), so there is no curriculum plot.")
        if agg.curriculum_records:
            note += (f" {agg.curriculum_records} of the records were played under a "
                     "curriculum.")
        return note + "</p>"
    parts = [_img(plot, "curriculum window over episodes") if plot else
             '<p class="note">The curriculum states have no history yet.</p>']
    for path, state in states:
        promotions: Counter[str] = Counter(e["family"] for e in state["history"]
                                           if e.get("promoted"))
        last: dict[str, dict[str, Any]] = {}
        for e in sorted(state["history"], key=lambda e: e["episode"]):
            last[e["family"]] = e
        fams = list(dict.fromkeys([*state.get("windows", {}), *last]))
        rows = []
        for fam in fams:
            window = state.get("windows", {}).get(fam)
            rate = last.get(fam, {}).get("rate")
            rows.append(f"<tr><td>{esc(fam)}</td><td>{esc(window if window else '–')}</td>"
                        f'<td class="num">{promotions[fam]}</td>'
                        f'<td class="num">{esc(last.get(fam, {}).get("episode", "–"))}</td>'
                        f'<td class="num">'
                        f'{_fmt(rate, "pct") if isinstance(rate, int | float) else "–"}'
                        "</td></tr>")
        parts.append(f"<h3>{esc(path.name)}</h3><table class=\"curriculum\"><thead><tr>"
                     "<th>family</th><th>final window [l, h]</th><th>promotions</th>"
                     "<th>last update (episode)</th><th>last success rate</th></tr></thead>"
                     "<tbody>" + "".join(rows) + "</tbody></table>")
    return "".join(parts)


def _message_html(message: Any) -> str:
    if not isinstance(message, dict):
        return f'<div class="msg">{esc(message)}</div>'
    role = str(message.get("role", "?"))
    content = message.get("content")
    text = "" if content is None else (content if isinstance(content, str)
                                       else json.dumps(content, ensure_ascii=False))
    label = role
    if role == "tool":
        label = f"tool {message.get('name', '')}".strip()
        text = _clip(text, TOOL_TEXT_LIMIT)
    calls = []
    raw_calls = message.get("tool_calls")
    for call in raw_calls if isinstance(raw_calls, list) else [raw_calls] if raw_calls else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            calls.append(f'<span class="call">→ {esc(fn.get("name", "?"))}'
                         f"({esc(fn.get('arguments', ''))})</span>")
        else:  # a malformed call: shown as it is
            raw = _clip(json.dumps(call, ensure_ascii=False, default=str), ARGS_TEXT_LIMIT)
            calls.append(f'<span class="call">→ ? {esc(raw)}</span>')
    cls = role if role in ("user", "assistant", "tool", "system") else ""
    return (f'<div class="msg {cls}"><span class="role">{esc(label)}</span>{esc(text)}'
            + "".join(calls) + "</div>")


def _trace_html(trace: Any) -> str:
    if not isinstance(trace, list) or not trace:
        return '<p class="note">No tool calls.</p>'
    rows = []
    for entry in trace:
        if not isinstance(entry, dict):
            continue
        args = json.dumps(entry.get("arguments", {}), ensure_ascii=False, sort_keys=True)
        ok = bool(entry.get("ok"))
        error = ": ".join(str(x) for x in (entry.get("error_code"), entry.get("error_message"))
                          if x)
        rows.append(f'<tr><td class="num">{esc(entry.get("seq", ""))}</td>'
                    f'<td class="num">{esc(entry.get("turn", ""))}</td>'
                    f"<td>{esc(entry.get('tool', '?'))}</td>"
                    f"<td>{esc(_clip(args, ARGS_TEXT_LIMIT))}</td>"
                    f'<td class="{"good" if ok else "bad"}">{"ok" if ok else "failed"}</td>'
                    f"<td>{esc(error)}</td></tr>")
    return ('<table class="trace"><thead><tr><th>#</th><th>turn</th><th>tool</th>'
            "<th>arguments</th><th>ok</th><th>error</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _examples_table(examples: list[tuple[str, dict[str, Any]]]) -> str:
    if not examples:
        return '<p class="note">No failed episodes.</p>'
    rows = []
    for i, (series, r) in enumerate(examples, 1):
        comps = "".join(
            f"<li><b>{esc(c.get('name'))}</b> ({_value(c):.2f}): "
            f"{esc(c.get('reason', ''))}</li>"
            for c in _list(r.get("reward_components"))
            if isinstance(c, dict) and _value(c) < 1.0)
        tags = "".join(f'<span class="tag">{esc(t.tag)}</span>' for t in failure_tags(r))
        cur = r.get("curriculum")
        where = (f"<br><small>curriculum window {esc(cur.get('window'))}, episode "
                 f"{esc(cur.get('episode'))}</small>" if isinstance(cur, dict) else "")
        messages = r.get("messages")
        messages = messages if isinstance(messages, list) else [messages] if messages else []
        trace = _list(r.get("trace"))
        rows.append(
            f'<tr class="example" id="example-{i}"><td class="num">{i}</td>'
            f"<td>{esc(r['family'])}</td><td class=\"num\">{esc(r['difficulty'])}</td>"
            f"<td>{esc(series)}</td><td>{esc(r.get('stop_reason', ''))}</td>"
            f'<td class="num">{float(r["reward"]) + 0.0:+.2f}</td>'
            f"<td>{tags}<ul>{comps}</ul><small>task <code>{esc(r.get('task_id', ''))}"
            f"</code>{where}</small></td></tr>"
            f'<tr class="detail"><td></td><td colspan="6">'
            f"<details class=\"conversation\"><summary>conversation ({len(messages)} "
            f"messages)</summary>{''.join(_message_html(m) for m in messages)}</details>"
            f"<details class=\"trace\"><summary>trace ({len(trace)} tool calls)</summary>"
            f"{_trace_html(trace)}</details></td></tr>")
    return ('<table class="examples"><thead><tr><th>#</th><th>family</th><th>difficulty</th>'
            "<th>policy</th><th>stop reason</th><th>reward</th><th>why it failed</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


def _page(title: str, agg: Aggregate, plots: dict[str, str | None],
          states: list[tuple[Path, dict[str, Any]]], inputs: list[Path],
          examples: list[tuple[str, dict[str, Any]]]) -> str:
    failed = sum(agg.failed.values())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    files = ", ".join(p.name for p in inputs)
    overview = "; ".join(
        f"{s}: {agg.cells[(s, 'all', None)].episodes} episodes, "
        f"{_fmt(agg.cells[(s, 'all', None)].success_rate, 'pct')} success, mean reward "
        f"{_fmt(agg.cells[(s, 'all', None)].mean_reward, 'signed')}" for s in agg.series)
    sections = [
        ("summary", "Summary by policy and family", _summary_table(agg)),
        ("difficulty", "Success and reward by difficulty",
         _img(plots["by_difficulty"], "success rate and mean reward by difficulty")
         + _difficulty_table(agg)),
        ("rewards", "Reward distribution", _img(plots["rewards"], "reward histogram")),
        ("failures", "Most common failure reasons",
         '<p class="note">Tags of failed episodes: one per failing intent of the task '
         "component, per penalty (hallucination, policy, unintended effects, safety, 3+ tool "
         "errors) and per stop reason; an episode counts once per tag.</p>"
         + _img(plots["failures"], "failure reasons bar chart") + _failure_table(agg)),
        ("curriculum", "Curriculum", _curriculum_section(states, plots["curriculum"], agg)),
        ("examples", f"Example failed episodes ({len(examples)} of {failed})",
         '<p class="note">Open a row\'s conversation or trace to see what went wrong; tool '
         f"results over {TOOL_TEXT_LIMIT:,} characters are truncated.</p>"
         + _examples_table(examples)),
    ]
    nav = "".join(f'<a href="#{key}">{esc(name.split(" (")[0])}</a>'
                  for key, name, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{esc(name)}</h2>{content}</section>'
                   for key, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no favicon request: nothing leaves the directory
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{agg.total} episodes ({failed} failed) from "
        f"{len(inputs)} file(s): {esc(files)}</p><p>{esc(overview)}</p>"
        f"<p>Generated {esc(when)} by shop-episodes report</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n")


def build_report(rollout_paths: Sequence[str | Path], out_dir: str | Path, *,
                 curriculum_paths: Sequence[str | Path] = (), title: str = DEFAULT_TITLE,
                 examples: int = 10) -> Path:
    """Write the report of ``rollout_paths`` (JSONL files, or directories of them) into
    ``out_dir`` (created if needed): ``index.html`` and its PNG plots. Returns the path of
    ``index.html``. Raises ``ReportError`` on missing, unreadable or malformed input, on
    input without records, and when matplotlib is missing."""
    _matplotlib()
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
    plots = {
        "by_difficulty": _plot_by_difficulty(agg, out),
        "rewards": _plot_rewards(agg, out),
        "failures": _plot_failures(agg, out),
        "curriculum": _plot_curricula(states, out) if states else None,
    }
    page = _page(title, agg, plots, states, inputs, agg.examples(examples))
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
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
        description="Write a self-contained HTML report (index.html and PNG plots) of rollout "
                    f"JSONL files. Needs matplotlib: {INSTALL_HINT}")
    p.add_argument("rollouts", nargs="+", help="rollout JSONL files (or directories of them)")
    p.add_argument("--out", required=True, help="output directory (created if needed)")
    p.add_argument("--curriculum", action="append", metavar="STATE_JSON",
                   help="a saved curriculum state to plot (repeatable)")
    p.add_argument("--title", default=DEFAULT_TITLE, help="page title")
    p.add_argument("--examples", type=_non_negative, default=10,
                   help="example failed episodes to show (default 10)")
    p.set_defaults(fn=cmd_report)
    return p
