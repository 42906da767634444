"""The facts an agent told the shopper, and whether they answer what the shopper asked.

An agent states facts with the shop's ``state_facts`` tool; the trace holds each accepted call's
facts in canonical form (``mcp_shop.facts``). An intent that asks for information (order status,
a policy, why an order cannot be cancelled, returned or exchanged) lists the facts it needs
(``Intent.facts``, each a ``FactGoal``). Every claim of a kind the intent asks about, made
while the intent is current, is judged (``docs/tasks.md``, "Answers are facts"):

* a claim about the thing asked (an accepted subject) with another value is wrong, and fails
  the answer, wherever it stands in the conversation: a hedge ("30 or 60 days") or a
  correction after a wrong claim states at least one wrong value;
* a claim of the asked kind about something else (another order, category, option) fails the
  answer too: a dump of every order's status is not an answer about one;
* each wanted fact needs a right claim made once the look-up it rests on was done.

Claims of kinds the intent does not ask about are not judged: the verifiers only know the
truth the task carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifiers.types import FactGoal, Reason, TraceEntry

__all__ = ["Claim", "judge_claims", "stated_claims"]

STATE_FACTS = "state_facts"


@dataclass(frozen=True)
class Claim:
    """One fact told to the shopper, in the agent turn ``turn``."""

    turn: int
    seq: int
    fact: str
    about: str | None
    value: Any


def stated_claims(trace: Sequence[TraceEntry], *, since_turn: int = 0,
                  until_turn: int | None = None) -> list[Claim]:
    """The facts of accepted ``state_facts`` calls made in turns ``since_turn`` to
    ``until_turn`` (exclusive), in call order."""
    out: list[Claim] = []
    for e in sorted(trace, key=lambda e: e.seq):
        if e.tool != STATE_FACTS or not e.ok or e.turn < since_turn:
            continue
        if until_turn is not None and e.turn >= until_turn:
            continue
        stated = e.result.get("stated") if isinstance(e.result, dict) else None
        for f in stated if isinstance(stated, list) else []:
            if isinstance(f, dict) and isinstance(f.get("fact"), str):
                about = f.get("about")
                out.append(Claim(turn=e.turn, seq=e.seq, fact=f["fact"],
                                 about=about if isinstance(about, str) else None,
                                 value=f.get("value")))
    return out


def same_value(a: Any, b: Any) -> bool:
    """Values are equal as the shop states them: texts in any case, numbers and truth values
    exactly (``True`` is not ``1``)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def judge_claims(goals: Sequence[FactGoal], claims: Sequence[Claim], *,
                 lookup_turn: int | None, lookup_missing: str = "nothing was looked up"
                 ) -> list[tuple[float, Reason | str]]:
    """(credit, reason if unmet) per wanted fact, plus one failing requirement per kind of
    fact stated about something else than asked. ``lookup_turn`` is the first turn the
    answer's look-up was made in (None: never)."""
    reqs: list[tuple[float, Reason | str]] = []
    subjects: dict[str, set[str] | None] = {}
    for g in goals:
        known = subjects.get(g.fact, set())
        subjects[g.fact] = None if known is None or not g.about else known | set(g.about)
    for g in goals:
        about = set(g.about)
        mine = [c for c in claims if c.fact == g.fact and (not about or c.about in about)]
        wrong = [c for c in mine if not same_value(c.value, g.value)]
        right = [c for c in mine if same_value(c.value, g.value)]
        where = f" about {g.about[0]}" if g.about else ""
        if wrong:
            c = wrong[0]
            reqs.append((0.0, Reason(
                code="wrong_claim", params={"fact": g.fact, "about": c.about,
                                            "stated": c.value, "turn": c.turn},
                text=f"{g.fact}{where} was stated as {_show(c.value)} in turn {c.turn}, "
                     "which is not right")))
        elif right and lookup_turn is not None and any(c.turn >= lookup_turn for c in right):
            reqs.append((1.0, ""))
        elif right:
            reqs.append((0.5, Reason(code="not_looked_up", params={"fact": g.fact},
                                     text=f"{g.fact}{where} was stated before "
                                          f"{lookup_missing.removesuffix(' never looked up')}"
                                          " was looked up" if lookup_turn is not None
                                     else f"{g.fact}{where} was stated, but {lookup_missing}")))
        else:
            reqs.append((0.0, Reason(code="no_answer", params={"fact": g.fact},
                                     text=f"the shopper was not told {g.fact}{where}")))
    for fact, allowed in subjects.items():
        if allowed is None:
            continue
        other = [c for c in claims if c.fact == fact and c.about not in allowed]
        if other:
            c = other[0]
            reqs.append((0.0, Reason(
                code="claim_about_other", params={"fact": fact, "about": c.about,
                                                  "turn": c.turn},
                text=f"{fact} was stated about {c.about}, which the shopper did not ask "
                     "about")))
    return reqs
