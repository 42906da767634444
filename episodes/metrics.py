"""Metrics over repeated trials of the same tasks: pass@k and pass^k.

For a task played n times with c successes:

- pass@k = 1 - C(n - c, k) / C(n, k): the chance that at least one of k trials drawn without
  replacement from the n succeeds (the unbiased estimator of Chen et al., 2021);
- pass^k = C(c, k) / C(n, k): the chance that all k of them succeed (tau-bench's estimator of
  reliability).

Both are averaged over tasks. pass@1 = pass^1 = the mean success rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from math import comb
from typing import Any

__all__ = ["pass_at_k", "pass_hat_k", "trial_counts", "trial_summary"]


def _check(n: int, c: int, k: int) -> None:
    if n < 1:
        raise ValueError(f"n (trials) must be at least 1, got {n}")
    if not 0 <= c <= n:
        raise ValueError(f"c (successes) must be from 0 to n = {n}, got {c}")
    if not 1 <= k <= n:
        raise ValueError(f"k must be from 1 to n = {n} (the trials of the task), got {k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k of the n trials succeeds: 1 - C(n-c, k) / C(n, k)."""
    _check(n, c, k)
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The chance that all k of k of the n trials succeed: C(c, k) / C(n, k)."""
    _check(n, c, k)
    return comb(c, k) / comb(n, k)


def trial_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int, int]]:
    """Per task id: (family, trials n, successes c) over rollout records."""
    out: dict[str, tuple[str, int, int]] = {}
    for r in records:
        family, n, c = out.get(r["task_id"], (r["family"], 0, 0))
        out[r["task_id"]] = (family, n + 1, c + bool(r["success"]))
    return out


def trial_summary(records: Iterable[Mapping[str, Any]], k: int | None = None,
                  ) -> list[dict[str, Any]]:
    """Per family (sorted) and overall ("all", last): tasks, trials, success rate, and
    ``pass_at`` / ``pass_hat``: {j: value} for j = 1..k, averaged over tasks.

    Records are grouped by ``task_id``. ``k`` defaults to the fewest trials of any task; a
    task with fewer than ``k`` trials is an error."""
    counts = trial_counts(records)
    if not counts:
        return []
    fewest = min(n for _, n, _ in counts.values())
    if k is None:
        k = fewest
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if fewest < k:
        task = next(t for t, (_, n, _) in counts.items() if n == fewest)
        raise ValueError(f"task {task!r} has {fewest} trial(s), fewer than k = {k}")
    groups: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for family, n, c in counts.values():
        groups[family].append((n, c))
    groups_all = [*sorted(groups.items()), ("all", [nc for g in groups.values() for nc in g])]
    rows = []
    for family, tasks in groups_all:
        m = len(tasks)
        rows.append({
            "family": family,
            "tasks": m,
            "trials": sum(n for n, _ in tasks),
            "success_rate": sum(c for _, c in tasks) / sum(n for n, _ in tasks),
            "pass_at": {j: sum(pass_at_k(n, c, j) for n, c in tasks) / m
                        for j in range(1, k + 1)},
            "pass_hat": {j: sum(pass_hat_k(n, c, j) for n, c in tasks) / m
                         for j in range(1, k + 1)},
        })
    return rows
