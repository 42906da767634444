"""One integer difficulty per family, mapped to the parameter vector of a task.

Level 0 is a fully stated, single-constraint request with nothing in the way; each level adds
constraints, hides more of them from the opening message, adds typos, a change of mind (from
level 4), near-miss distractors, stock-outs, order history, policy branches, tighter budgets
and (from level 6) a flash sale that moves stock and prices while the conversation runs. Turn
and tool-call budgets shrink as the level rises (a task's limits never drop below what its gold
solution needs, plus slack), the shopper loses patience sooner, and from level 3 it answers one
question per message. Levels above 10 keep growing the same knobs up to their caps.
"""

from __future__ import annotations

from verifiers.types import Difficulty

__all__ = ["MAX_DIFFICULTY", "difficulty_params", "parse_difficulty_range"]

MAX_DIFFICULTY = 20


def difficulty_params(level: int) -> Difficulty:
    """The parameter vector of difficulty ``level`` (0 to 20)."""
    if not 0 <= level <= MAX_DIFFICULTY:
        raise ValueError(f"difficulty must be an integer from 0 to {MAX_DIFFICULTY}, got {level}")
    d = level
    return Difficulty(
        level=d,
        constraints=1 + min(d, 8) // 2,
        omitted_share=min(0.6, 0.08 * d),
        typo_rate=0.0 if d < 3 else min(0.15, 0.015 * (d - 2)),
        changes_of_mind=0 if d < 4 else 1,
        distractors=min(d, 8),
        out_of_stock_rate=min(0.5, 0.05 * d),
        history_depth=min(12, d),
        policy_branching=0 if d < 2 else (1 if d < 6 else 2),
        budget_tightness=min(0.9, 0.1 * d),
        stock_volatility=0.0 if d < 6 else min(0.3, 0.05 * (d - 5)),
        max_turns=max(8, 16 - d // 2),
        max_tool_calls=max(16, 36 - 2 * d),
        patience=max(2, 6 - d // 2),
    )


def parse_difficulty_range(text: str) -> list[int]:
    """``"3"`` -> [3]; ``"0-5"`` -> [0, 1, 2, 3, 4, 5]; ``"1,4,7"`` -> [1, 4, 7]."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ValueError(f"difficulty must look like 3, 0-5 or 1,4,7, got {text!r}") from None
    bad = [d for d in out if not 0 <= d <= MAX_DIFFICULTY]
    if bad:
        raise ValueError(f"difficulties must be from 0 to {MAX_DIFFICULTY}, got {bad[0]}")
    return sorted(set(out))
