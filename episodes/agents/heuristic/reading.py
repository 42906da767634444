"""Reading the shopper's text: money, ids, categories, budgets, quantities, reasons, dates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from episodes.agents.heuristic.vocab import _vocab

_MONEY = re.compile(r"\$(\d+(?:\.\d{1,2})?)")
_ORDER_ID = re.compile(r"\bO-\d{1,9}\b", re.I)
_PRODUCT_ID = re.compile(r"\bP-\d{1,9}\b", re.I)
_MORE = re.compile(r"\bone more thing:\s*", re.I)
_ACCEPTED = re.compile(r"\byes, the (.+?) looks right", re.I)
_REJECTED = re.compile(r"\bnot quite: (.+?)\.(?:\s|$)", re.I)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "both": 2, "a": 1, "an": 1}
_RETURN_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("arrived_damaged", ("arrived damaged", "broken when", "damaged")),
    ("not_as_described", ("listing described", "match the description", "not as described",
                          "described", "description")),
    ("wrong_size", ("wrong size", "doesn't fit", "don't fit", "too small", "too big",
                    "fit")),
    ("defective", ("stopped working", "won't turn on", "coming apart", "defective", "faulty",
                   "broken", "doesn't work")),
    ("changed_mind", ("changed my mind", "don't need", "no longer need")),
)
_CANCEL_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ordered_by_mistake", ("mistake", "by accident")),
    ("found_better_price", ("cheaper", "better price")),
    ("shipping_too_slow", ("too long", "in time", "too slow")),
    ("no_longer_needed", ("don't need", "no longer need", "after all")),
)


_YES_WORDS = frozenset({"yes", "ys", "ye", "yse", "eys", "yess", "yees", "yeah", "yea", "yep",
                        "sure"})


def _agrees(reply: str) -> bool:
    """Whether the shopper's reply is a yes ("Yes, please go ahead."), typos and all: its first
    word is one edit from "yes", or it says to go ahead."""
    first = re.match(r"\W*([a-z]+)", reply.lower())
    return bool(first and first.group(1) in _YES_WORDS) or re.search(
        r"\bgo\s+a(?:head|ehad|had|hed|heaad)\b", reply.lower()) is not None


def _cents(text: str) -> int:
    return round(float(text) * 100)


def _money(cents: int) -> str:
    dollars, rest = divmod(int(cents), 100)
    return f"${dollars}" if rest == 0 else f"${dollars}.{rest:02d}"


def _category(text: str) -> str | None:
    """The category a text names: the earliest, then longest, category noun."""
    best: tuple[int, int, str] | None = None
    for rx, slug, size in _vocab().categories:
        m = rx.search(text.lower())
        if m and (best is None or (m.start(), -size) < (best[0], -best[1])):
            best = (m.start(), size, slug)
    return best[2] if best else None


def _budget(text: str) -> int | None:
    """A spending limit stated in the text (the last one wins)."""
    found: int | None = None
    low = text.lower()
    for m in _MONEY.finditer(low):
        before = low[max(0, m.start() - 40):m.start()]
        after = low[m.end():m.end() + 40]
        cents = _cents(m.group(1))
        if re.match(r"\s*is more than i want", after):
            found = cents - 1
        elif re.search(r"(under|below|less than|up to|within|budget|spend|max|at most|"
                       r"no more than|stay|keep it|cheaper than)\W*(of\W*)?(about\W*)?$",
                       before) or re.match(r"\s*(total|each|budget|or less|max)", after):
            found = cents
    return found


def _quantity_before(text: str) -> int | None:
    m = re.search(r"(\d+|" + "|".join(_NUMBER_WORDS) + r")\s+(?:x\s+)?(?:of\s+)?(?:the\s+)?$",
                  text.lower())
    if not m:
        return None
    word = m.group(1)
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _reason(text: str, table: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    low = text.lower()
    best: tuple[int, str] | None = None
    for code, cues in table:
        for cue in cues:
            at = low.rfind(cue)
            if at >= 0 and (best is None or at > best[0]):
                best = (at, code)
    return best[1] if best else None


def _value(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def _date(iso: Any) -> str:
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    return f"{when:%B} {when.day} ({when:%Y-%m-%d})"
