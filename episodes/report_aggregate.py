"""What the report counts: why each failed episode failed (``failure_tags``, read from the
verifiers' reason codes) and the running totals per policy, family and difficulty
(``Aggregate``).

Failure tags come from the typed reasons of the reward components (``Reason.code``, filed
under ``verifiers.reasons.category``), never from their sentences, so rewording a verifier's
message leaves the tags as they were. A record written before reasons were typed has no codes:
each failing component then counts once under its own name ("task not done" for the task).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from verifiers.reasons import category
from verifiers.types import FAMILIES

__all__ = ["Z95", "Aggregate", "Cell", "FailureTag", "ReportError", "RewardBin", "aggregate",
           "Window", "bin_outcomes", "curriculum_window", "failure_tags", "reward_bins",
           "wilson_interval"]


class ReportError(ValueError):
    """Bad input for the report (missing, unreadable or malformed files, nothing to show)."""


class FailureTag(NamedTuple):
    """One reason an episode failed: a short ``tag`` (the category of a reason code), where it
    came from (``source``: a reward component name), the ``code`` and the verifier's own text
    (``reason``)."""

    tag: str
    source: str
    reason: str
    code: str = ""


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


def _reasons(comp: dict[str, Any]) -> list[dict[str, Any]]:
    """A component's typed reasons (those with a code)."""
    return [r for r in _list(comp.get("reasons"))
            if isinstance(r, dict) and isinstance(r.get("code"), str)]


def _first_per_intent(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``task`` component's reasons: the first of each failing intent (the intent's main
    problem), and every reason not about one intent (how the episode stopped)."""
    seen: set[Any] = set()
    out = []
    for r in reasons:
        params = r.get("params")
        intent = params.get("intent") if isinstance(params, dict) else None
        if intent is not None:
            if intent in seen:
                continue
            seen.add(intent)
        out.append(r)
    return out


def failure_tags(record: dict[str, Any]) -> list[FailureTag]:
    """Why an episode failed, as tags: the categories of the codes of every failing
    component's reasons (for the ``task`` component the first reason of each failing intent,
    and how the episode stopped when that left the task undone). Efficiency is not a failure
    reason, nor are fewer than three failed calls. A successful episode has none; a tag is
    listed once per episode."""
    if record.get("success"):
        return []
    out: list[FailureTag] = []
    for comp in _list(record.get("reward_components")):
        if not isinstance(comp, dict) or _value(comp) >= 1.0:
            continue
        name = str(comp.get("name", "?"))
        if name == "efficiency" or (name == "errors" and _value(comp) > 0.0):
            continue
        reasons = _reasons(comp)
        if name == "task":
            reasons = _first_per_intent(reasons)
        if not reasons:  # an untyped record
            text = str(comp.get("reason") or "")
            out.append(FailureTag("task not done" if name == "task" else name, name, text))
        out += [FailureTag(category(r["code"]), name, str(r.get("text", "")), r["code"])
                for r in reasons]
    seen: set[str] = set()
    unique = []
    for t in out:
        if t.tag not in seen:
            seen.add(t.tag)
            unique.append(t)
    return unique


# -- aggregation ---------------------------------------------------------------------------


Z95 = 1.959964  # the standard normal quantile of a two-sided 95% interval


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of ``successes`` out of ``n`` (it stays inside [0, 1]
    and is not empty at 0 or n successes, unlike p +- 1.96 SE); (nan, nan) when n is 0."""
    if n <= 0:
        return math.nan, math.nan
    p, z2 = successes / n, Z95 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Cell:
    """Running totals of a group of episodes."""

    episodes: int = 0
    successes: int = 0
    reward_sum: float = 0.0
    reward_sq_sum: float = 0.0
    turns_sum: float = 0.0
    turns_n: int = 0
    calls_sum: float = 0.0
    calls_n: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Count one record."""
        self.episodes += 1
        self.successes += bool(record["success"])
        self.reward_sum += float(record["reward"])
        self.reward_sq_sum += float(record["reward"]) ** 2
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
    def success_interval(self) -> tuple[float, float]:
        """The 95% Wilson score interval of the success rate ((nan, nan) without episodes)."""
        return wilson_interval(self.successes, self.episodes)

    @property
    def reward_interval(self) -> tuple[float, float]:
        """The mean reward +- 1.96 standard errors (the sample standard deviation over the
        square root of n): a normal-approximation 95% interval, (nan, nan) below 2 episodes."""
        n = self.episodes
        if n < 2:
            return math.nan, math.nan
        variance = max(0.0, (self.reward_sq_sum - n * self.mean_reward ** 2) / (n - 1))
        half = Z95 * math.sqrt(variance / n)
        return self.mean_reward - half, self.mean_reward + half

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
    difficulty ``None`` for every difficulty; ``outcomes`` holds each series' (reward,
    success) pairs in reading order. Only the first few failed records of each
    (series, family) are kept whole, as example candidates.
    """

    keep_examples: int = 10
    series: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str, int | None], Cell] = field(
        default_factory=lambda: defaultdict(Cell))
    outcomes: dict[str, list[tuple[float, bool]]] = field(
        default_factory=lambda: defaultdict(list))
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
        self.outcomes[series].append((float(record["reward"]), bool(record["success"])))
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
        self.outcomes = defaultdict(list, {names.get(s, s): v
                                           for s, v in self.outcomes.items()})
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


class RewardBin(NamedTuple):
    """One bar of the reward histogram: the rewards equal to ``lo`` when ``lo == hi``, else
    those in [lo, hi) below zero or in (lo, hi] above it. No bin holds 0 with other values:
    a reward of exactly 0 (a task not done without penalties) has a bar of its own."""

    lo: float
    hi: float
    label: str

    def holds(self, reward: float) -> bool:
        """Whether ``reward`` falls in this bin."""
        if self.lo == self.hi:
            return reward == self.lo
        return self.lo <= reward < self.hi if self.hi <= 0 else self.lo < reward <= self.hi


def _num(value: float) -> str:
    return "0" if value == 0 else f"{value:+.2f}".rstrip("0").rstrip(".")


def reward_bins(rewards: Iterable[float], *, exact_up_to: int = 15,
                most_bins: int = 20) -> list[RewardBin]:
    """The bins of a reward histogram: a bin per distinct value when there are at most
    ``exact_up_to`` of them (sparse rewards take few values), else equal bins of a round
    width that split at 0, with 0 itself a bin of its own when it occurs."""
    values = sorted({round(r, 6) + 0.0 for r in rewards})  # + 0.0: -0.0 is 0
    if not values:
        return []
    if len(values) <= exact_up_to:
        return [RewardBin(v, v, _num(v)) for v in values]
    low, high = min(values[0], 0.0), max(values[-1], 0.0)
    steps = (m * 10.0 ** e for e in range(-3, 10) for m in (1, 2, 2.5, 5))
    step = next(s for s in steps if math.ceil(-low / s) + math.ceil(high / s) <= most_bins)
    out = [RewardBin(round(-k * step, 9), round(-(k - 1) * step, 9),
                     f"[{_num(-k * step)}, {_num(-(k - 1) * step)})")
           for k in range(math.ceil(-low / step - 1e-9), 0, -1)]
    if 0.0 in values:
        out.append(RewardBin(0.0, 0.0, "0"))
    out += [RewardBin(round((k - 1) * step, 9), round(k * step, 9),
                      f"({_num((k - 1) * step)}, {_num(k * step)}]")
            for k in range(1, math.ceil(high / step - 1e-9) + 1)]
    return out


def bin_outcomes(bins: list[RewardBin],
                 outcomes: Iterable[tuple[float, bool]]) -> list[tuple[int, int]]:
    """(successes, failures) per bin of ``bins`` (from ``reward_bins`` over these rewards)."""
    counts = [[0, 0] for _ in bins]
    for reward, success in outcomes:
        value = round(reward, 6) + 0.0
        index = next((i for i, b in enumerate(bins) if b.holds(value)), None)
        if index is None:
            raise ValueError(f"reward {reward} is in none of the bins {bins}")
        counts[index][0 if success else 1] += 1
    return [(s, f) for s, f in counts]


class Window(NamedTuple):
    """A family's curriculum window [l, h], with the outcomes counted at h since its last
    check (None when the state does not say)."""

    low: int
    high: int
    counted: int | None = None
    successes: int | None = None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def curriculum_window(value: Any) -> Window | None:
    """A saved state's window as a ``Window``: ``{"l": int, "h": int, "counted": int,
    "successes": int}`` (what ``episodes.curriculum`` saves; the counts optional) or
    ``[l, h]``; None for anything else."""
    if isinstance(value, dict) and _int(value.get("l")) and _int(value.get("h")):
        counted, successes = value.get("counted"), value.get("successes")
        return Window(value["l"], value["h"], counted if _int(counted) else None,
                      successes if _int(successes) else None)
    if isinstance(value, list | tuple) and len(value) == 2 and all(_int(v) for v in value):
        return Window(value[0], value[1])
    return None


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

