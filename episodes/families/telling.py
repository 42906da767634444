"""Facts a task asks the agent to tell the shopper, and the gold step that tells them.

The keys and canonical forms are the shop's (``mcp_shop.facts``); a ``FactGoal`` lists every
subject a right claim may name (``about``), the first being the one the gold solution uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mcp_shop.facts import FACT_KEYS, day_of
from verifiers.types import FactGoal, GoldStep

__all__ = ["fact", "tell"]


def fact(key: str, about: str | Sequence[str] | None, value: str | int | bool | datetime
         ) -> FactGoal:
    """A wanted fact; a datetime value becomes its canonical day."""
    assert key in FACT_KEYS, key
    subjects = [about] if isinstance(about, str) else list(about or [])
    return FactGoal(fact=key, about=subjects,
                    value=day_of(value) if isinstance(value, datetime) else value)


def tell(goals: Sequence[FactGoal]) -> GoldStep:
    """The gold ``state_facts`` call stating ``goals``."""
    return GoldStep(tool="state_facts", args={"facts": [
        {"fact": g.fact, **({"about": g.about[0]} if g.about else {}), "value": g.value}
        for g in goals]})
