"""Answers in words: matching answer alternatives in the agent's messages and spotting messages
stuffed with likely values (``docs/tasks.md``, "Intents")."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

__all__ = ["ANSWER_NOISE_LIMIT", "ANSWER_NOISE_LIMITS", "answer_progress", "answer_values",
           "stray_values"]


# -- answers: matching alternatives and spotting stuffed messages ---------------------------

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_NUMBERS: dict[str, int] = {w: n for n, w in enumerate(_ONES)}
for _t, _tens in enumerate(_TENS, start=2):
    _WORD_NUMBERS[_tens] = _t * 10
    for _o in range(1, 10):
        _WORD_NUMBERS[f"{_tens}-{_ONES[_o]}"] = _t * 10 + _o
        _WORD_NUMBERS[f"{_tens} {_ONES[_o]}"] = _t * 10 + _o
_WORD_NUMBERS.update({"a": 1, "an": 1, "a hundred": 100, "one hundred": 100})
_NUM = (r"(?<![\w.,$])(\d[\d,]*(?:\.\d+)?|"
        + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)).replace(" ", r"\s+")
        + r")(?![\w])")
_SEP = r"(?:\s+|\s*-\s*)"
_STATUS_PHRASES: dict[str, str] = {
    "pending": "pending", "just placed": "pending", "just been placed": "pending",
    "processing": "processing", "being processed": "processing",
    "being prepared": "processing", "being packed": "processing",
    "shipped": "shipped", "on its way": "shipped", "on the way": "shipped",
    "in transit": "shipped", "dispatched": "shipped", "with the carrier": "shipped",
    "being shipped": "shipped", "out for delivery": "shipped",
    "delivered": "delivered", "dropped off": "delivered", "has arrived": "delivered",
    "have arrived": "delivered", "arrived": "delivered",
    "cancelled": "cancelled", "canceled": "cancelled",
}
"""Ways to say an order's status, by status."""
_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dollar amounts", re.compile(r"\$\s*(\d[\d,]*(?:\.\d{1,2})?)(?![\d])")),
    ("dollar amounts", re.compile(r"(?<![\w.,$])(\d[\d,]*\.\d{2})(?![\d])")),
    ("dollar amounts", re.compile(_NUM + r"\s*(?:dollars?|bucks|usd)\b")),
    ("percentages", re.compile(_NUM + r"\s*(?:%|percent\b|per\s*cent\b)")),
    ("day counts", re.compile(_NUM + _SEP + r"(?:(?:business|calendar|working)" + _SEP
                              + r")?days?\b")),
    ("hour counts", re.compile(_NUM + _SEP + r"(?:hours?|hrs?)\b")),
    ("month counts", re.compile(r"half\s+a\s+year|" + _NUM + _SEP + r"months?\b")),
    ("month counts", re.compile(_NUM + _SEP + r"years?\b")),
    ("order statuses", re.compile(r"\b(" + "|".join(
        sorted(_STATUS_PHRASES, key=len, reverse=True)).replace(" ", r"\s+") + r")\b")),
)
ANSWER_NOISE_LIMIT = 2
"""How many values of one kind (day counts, percentages, dollar amounts, hour or month counts)
an answering message may hold beyond those of the intent's answer groups; one with more buries
its answer among contradicting values and does not count."""
ANSWER_NOISE_LIMITS: dict[str, int] = {"order statuses": 0}
"""Kinds with a tighter limit: an order is in one status, so an answer about an order states
no other. A status that is negated ("it hasn't shipped yet") or not the current one ("once it
is delivered", "only pending orders can be") is not a claim and does not count."""
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno longer|\byet to|\bwithout|\bneither)"
                      r"(?:\s+(?:yet|been|be|being|even|already|actually|quite|"
                      r"[a-z]+(?:\s*,|\s+or|\s+nor)))*\s+$")
_NOT_CURRENT = re.compile(r"\b(?:once|when|whenever|after|until|till|before|only|if|unless|"
                          r"will|would|should|could|can|may|might|must|to be|gets?|getting|"
                          r"expected|estimated|scheduled|likely)\b(?:\s+[\w'-]+){0,2}\s+$")


def _negated(low: str, start: int) -> bool:
    """Whether the words just before ``start`` negate what follows ("hasn't been shipped")."""
    return _NEGATED.search(low[max(0, start - 40):start]) is not None


def _not_current(low: str, start: int) -> bool:
    """Whether a status at ``start`` is negated or not the order's current one ("once it is
    delivered", "should be delivered", "only pending orders")."""
    return _negated(low, start) or _NOT_CURRENT.search(low[max(0, start - 50):start]) is not None


def _number(text: str) -> float | None:
    text = re.sub(r"\s+", " ", text.strip())
    if text in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[text])
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def answer_values(text: str) -> set[tuple[str, str]]:
    """The values a text states, as (kind, normalized value): dollar amounts (in cents),
    percentages, day, hour and month counts (years in months) and order status words."""
    return _read_values(text)[0]


def _read_values(text: str, context: str | None = None) -> tuple[set[tuple[str, str]], str]:
    """``answer_values`` and the text (any case) with those values blanked out. ``context``
    (the text before any blanking, same length) is where negations are looked for."""
    low = text.casefold()
    whole = context if context is not None and len(context) == len(low) else low
    out: set[tuple[str, str]] = set()
    for kind, pattern in _VALUE_PATTERNS:
        for m in pattern.finditer(low):
            if kind == "order statuses":
                if not _not_current(whole, m.start()):
                    out.add((kind, _STATUS_PHRASES[re.sub(r"\s+", " ", m.group(1))]))
            else:
                half = m.group(0).startswith("half")
                n = 6.0 if half else _number(m.group(1))
                if n is None:
                    continue
                if kind == "dollar amounts":
                    n = round(n * 100)
                elif kind == "month counts" and "year" in m.group(0) and not half:
                    n *= 12
                out.add((kind, f"{n:g}"))
            # blank the match so that a later pattern does not read it again
            low = low[:m.start()] + " " * (m.end() - m.start()) + low[m.end():]
    return out, low


def _stated(alt: str) -> set[tuple[str, str]]:
    """The value an answer alternative consists of ('30 days', '$4.99', 'shipped'); nothing
    for a phrase that merely names one ('not shipped yet' does not state "shipped")."""
    values, rest = _read_values(alt)
    return values if len(values) == 1 and not re.search(r"\w", rest) else set()


def _alt_pattern(alt: str) -> re.Pattern[str]:
    """An alternative as a pattern: any case, and a number in it is not part of a longer one
    ('5 days' is not in '15 days', '$5' is not in '$5.99')."""
    body = re.escape(alt.casefold())
    if alt[:1].isdigit():
        body = r"(?<![\w.,])" + body
    if alt[-1:].isdigit():
        body += r"(?![\d]|[.,]\d)"
    return re.compile(body)


def _mentions(low: str, alt: str) -> bool:
    """Whether ``low`` mentions ``alt``; an alternative that states a status counts only where
    that status is claimed as the current one ("not shipped" does not say that it shipped,
    nor "once it is delivered" that it was)."""
    if not alt.strip():
        return False
    status = any(kind == "order statuses" for kind, _ in _stated(alt))
    return any(not (status and _not_current(low, m.start()))
               for m in _alt_pattern(alt).finditer(low))


def stray_values(groups: Sequence[Sequence[str]], text: str,
                 ignore: Collection[tuple[str, str] | str] = ()) -> dict[str, list[str]]:
    """The values of ``text`` (see ``answer_values``) that no answer group states, by kind:
    the text with every alternative of every group blanked out, less the values the
    alternatives themselves state and ``ignore`` (values, or whole kinds)."""
    whole = low = text.casefold()
    for group in groups:
        for alt in group:
            if alt.strip():
                low = _alt_pattern(alt).sub(lambda m: " " * len(m.group(0)), low)
    known = {v for group in groups for alt in group for v in _stated(alt)}
    out: dict[str, list[str]] = {}
    for kind, value in sorted(_read_values(low, whole)[0] - known, key=_value_order):
        if kind not in ignore and (kind, value) not in ignore:
            out.setdefault(kind, []).append(_show(kind, value))
    return out


_UNITS = {"percentages": "%", "day counts": " days", "hour counts": " hours",
          "month counts": " months"}


def _value_order(value: tuple[str, str]) -> tuple[str, float, str]:
    try:
        return value[0], float(value[1]), ""
    except ValueError:
        return value[0], 0.0, value[1]


def _show(kind: str, value: str) -> str:
    if kind == "dollar amounts":
        return f"${float(value) / 100:,.2f}"
    return value + _UNITS.get(kind, "")


_REFUSAL_REASONS: dict[str, re.Pattern[str]] = {
    "the return window": re.compile(r"\bwindow\b|\bdays? (of|after|since) delivery\b|"
                                    r"\btoo late\b|\bexpired\b"),
    "final sale": re.compile(r"final[- ]sale|clearance|non-?returnable|not returnable|grocer"),
}


def _mixed_reasons(groups: Sequence[Sequence[str]], text: str) -> str | None:
    """A refusal that gives another reason besides the true one ("final sale, or past the
    30-day window") hedges instead of answering: the reason families the answer groups do not
    name, found in ``text`` once the groups' own phrases are blanked out."""
    alts = [alt.casefold() for group in groups for alt in group if alt.strip()]
    low = text.casefold()
    for alt in alts:
        low = _alt_pattern(alt).sub(lambda m: " " * len(m.group(0)), low)
    days = any(kind == "day counts" for alt in alts for kind, _ in _stated(alt))
    for name, rx in _REFUSAL_REASONS.items():
        expected = any(rx.search(alt) for alt in alts) or (name == "the return window" and days)
        if not expected and rx.search(low):
            return f"the refusal also blames {name}, which is not the reason"
    return None


def _buried(groups: Sequence[Sequence[str]], text: str,
            ignore: Collection[tuple[str, str] | str], *,
            refusal: bool = False) -> str | None:
    """Why ``text`` is not a specific answer (too many stray values of one kind, or for a
    refusal a second reason), or None."""
    if refusal:
        mixed = _mixed_reasons(groups, text)
        if mixed is not None:
            return mixed
    for kind, values in stray_values(groups, text, ignore).items():
        if len(values) > ANSWER_NOISE_LIMITS.get(kind, ANSWER_NOISE_LIMIT):
            return (f"the answer is buried among {len(values)} other {kind} "
                    f"({', '.join(values[:4])}{', ...' if len(values) > 4 else ''})")
    return None


def answer_progress(groups: Sequence[Sequence[str]], texts: Sequence[str], *,
                    ignore: Collection[tuple[str, str] | str] = (), refusal: bool = False
                    ) -> tuple[bool, float, str]:
    """Whether one message answers every group (mentions, any case, one alternative of each)
    without burying the answer among more stray values of one kind than ``ANSWER_NOISE_LIMIT``
    (``ANSWER_NOISE_LIMITS``) allows;
    the best share of groups one such message covers, and what the best message misses."""
    if not groups:
        ok = any(t.strip() for t in texts)
        return ok, 1.0 if ok else 0.0, "done" if ok else "no answer given"
    if not texts:
        return False, 0.0, "no answer given"
    best, missing, buried = -1, "", ""
    for text in texts:
        low = text.casefold()
        misses = [g for g in groups if not any(_mentions(low, alt) for alt in g)]
        hits = len(groups) - len(misses)
        why = _buried(groups, text, ignore, refusal=refusal)
        if why is not None:
            buried = buried or why
            continue
        if hits > best:
            best = hits
            missing = " / ".join(f'"{a}"' for a in misses[0]) if misses else ""
    if best == len(groups):
        return True, 1.0, "done"
    if best <= 0 and buried:
        return False, 0.0, buried
    return False, max(best, 0) / len(groups), f"no answer mentions {missing}"

