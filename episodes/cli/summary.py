"""The tables ``shop-episodes run`` and ``check`` print: the summary per family and
difficulty, and pass@k / pass^k over trials."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from episodes.cli import output

__all__ = ["print_summary", "print_trials", "summarize"]


def summarize(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (family, difficulty) and overall: episodes, success rate, mean reward, turns, calls."""
    cells: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        cells[(r["family"], r["difficulty"])].append(r)
        cells[("all", "all")].append(r)
    rows = []
    for (family, difficulty), rs in sorted(cells.items(), key=lambda kv: (
            kv[0][0] == "all", kv[0][0], str(kv[0][1]).zfill(3))):
        n = len(rs)
        rows.append({
            "family": family, "difficulty": difficulty, "episodes": n,
            "success_rate": sum(r["success"] for r in rs) / n,
            "mean_reward": sum(r["reward"] for r in rs) / n,
            "mean_turns": sum(r["metrics"]["turns"] for r in rs) / n,
            "mean_tool_calls": sum(r["metrics"]["tool_calls"] for r in rs) / n,
        })
    return rows


def print_summary(rows: list[dict[str, Any]], title: str) -> None:
    """The rows of ``summarize`` as a table on stdout."""
    table = Table("family", "difficulty", "episodes", "success", "mean reward", "turns",
                  "tool calls", title=title)
    for row in rows:
        table.add_row(row["family"], str(row["difficulty"]), str(row["episodes"]),
                      f"{row['success_rate']:.0%}", f"{row['mean_reward']:+.3f}",
                      f"{row['mean_turns']:.1f}", f"{row['mean_tool_calls']:.1f}")
    output.console.print(table)


def print_trials(records: list[dict[str, Any]], k: int) -> None:
    """pass@k and pass^1..pass^k per family and overall."""
    from episodes.metrics import trial_summary

    rows = trial_summary(records, k)
    hats = [f"pass^{j}" for j in range(1, k + 1)]
    table = Table("family", "tasks", "trials", f"pass@{k}", *hats,
                  title=f"{k} trials per task: pass@{k} (any trial succeeds) and pass^j "
                  "(all of j trials succeed)")
    for row in rows:
        table.add_row(row["family"], str(row["tasks"]), str(row["trials"]),
                      f"{row['pass_at'][k]:.1%}",
                      *(f"{row['pass_hat'][j]:.1%}" for j in range(1, k + 1)))
    output.console.print(table)
