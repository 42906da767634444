"""Reading the terms a proposal names (``verifiers.terms``): orders, items, payment methods,
shipping, address, refund route, reason, replacement; names resolved against what the trace
showed the agent (``Known``). Used through ``verifiers.proposals``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from verifiers.terms import ActionKind, ItemTerm, PaymentTerm, ProposalTerms
from verifiers.types import TraceEntry

__all__ = ["REASON_CUES", "Known", "kind_of_label", "known_from_trace", "names_value",
           "read_terms"]


@dataclass
class Known:
    """What the trace showed: payment methods, addresses and variants (title, options)."""

    methods: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    variants: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)

    def default_address(self) -> str | None:
        return next((a["address_id"] for a in self.addresses if a.get("is_default")), None)

    def method_kind(self, method_id: str) -> str | None:
        return next((m["kind"] for m in self.methods if m["payment_method_id"] == method_id),
                    None)


def known_from_trace(trace: Iterable[TraceEntry]) -> Known:
    """Collect the customer's methods and addresses and every variant's title and options from
    successful tool results (customer, cart, order, product and eligibility views)."""
    known = Known()
    for entry in trace:
        res = entry.result
        if not entry.ok or not isinstance(res, dict):
            continue
        if isinstance(res.get("payment_methods"), list):
            known.methods = [m for m in res["payment_methods"] if isinstance(m, dict)
                             and {"payment_method_id", "kind", "label"} <= m.keys()]
        if isinstance(res.get("addresses"), list):
            known.addresses = [a for a in res["addresses"] if isinstance(a, dict)
                               and "address_id" in a]
        for line in res.get("lines") or []:
            if isinstance(line, dict) and "variant_id" in line and "title" in line:
                old = known.variants.get(line["variant_id"], ("", {}))
                known.variants[line["variant_id"]] = (
                    line["title"], dict(line.get("options") or old[1]))
        if isinstance(res.get("variants"), list) and isinstance(res.get("title"), str):
            for v in res["variants"]:
                if isinstance(v, dict) and "variant_id" in v:
                    known.variants[v["variant_id"]] = (res["title"], dict(v.get("options")
                                                                           or {}))
    return known


# -- words --------------------------------------------------------------------------------------

_ORDER = re.compile(r"\bO-\d{1,9}\b")
_EXCLUDED = re.compile(r"\b(?:not|rather than|instead of|other than|except|but not|excluding)"
                       r"\s+(?:order\s+|#\s*)?(O-\d{1,9})\b", re.I)
_VARIANT = re.compile(r"\bV-\d{1,9}-\d{1,3}\b")
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "a": 1, "an": 1, "both": 2}
_QTY_BEFORE = re.compile(r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|both)"
                         r"\s*(?:x|×|units? of|of)?\s*(?:the|your)?\s*$", re.I)
_MONEY_AFTER = re.compile(r"^\s*\(\s*\$(\d[\d,]*(?:\.\d{2})?)")
_SHIPPING = re.compile(
    r"\b(standard|express|next[- ]day|overnight|two[- ]day|2[- ]day)\b\s+(?:shipping|delivery)"
    r"|\b(?:ship(?:ping|ped)?|deliver(?:y|ed)?|send(?: it| them)?)\s*(?:it\s+|them\s+)?"
    r"(?:by|via|with|using|as|:)?\s*(standard|express|next[- ]day|overnight)\b", re.I)
_SHIP_CODE = {"standard": "standard", "express": "express", "two-day": "express",
              "2-day": "express", "overnight": "next_day"}
_ADDRESS_ID = re.compile(r"\bA-\d{1,4}\b")
_METHOD_ID = re.compile(r"\bPM-\d{1,4}\b")
_PAREN = re.compile(r"\s*\(([^)]*)\)")
_DEFAULT_ADDRESS = re.compile(r"\b(?:default|usual|saved|primary) (?:shipping |delivery )?"
                              r"address\b", re.I)
_REFUND_ORIGINAL = re.compile(r"\boriginal (?:payment|form of payment|method|card)|"
                              r"\bpayment method (?:you|that you) (?:used|paid with)\b|"
                              r"\bthe card you paid with\b|\bsame (?:card|payment method)\b",
                              re.I)
_REFUND_GIFT = re.compile(r"\bgift card\b|\bstore credit\b", re.I)
_PAY_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("gift_card", re.compile(r"\bgift[- ]card\b", re.I)),
    ("paypal", re.compile(r"\bpay ?pal\b", re.I)),
    ("card", re.compile(r"\b(?:visa|mastercard|master card|amex|american express)\b|"
                        r"\b(?:credit |debit )?card\b", re.I)),
)
_ENDING = re.compile(r"\bending(?: in)? (\d{4})\b", re.I)
# reason code -> the words that name it (the code's own words first)
REASON_CUES: dict[str, tuple[str, ...]] = {
    "no_longer_needed": ("no longer needed", "no longer need", "don't need it anymore",
                         "not needed anymore"),
    "ordered_by_mistake": ("ordered by mistake", "by mistake", "by accident"),
    "found_better_price": ("found better price", "found a better price", "better price",
                           "cheaper elsewhere"),
    "shipping_too_slow": ("shipping too slow", "shipping is too slow", "too slow",
                          "takes too long"),
    "wrong_size": ("wrong size", "doesn't fit", "too small", "too big"),
    "wrong_colour": ("wrong colour", "wrong color"),
    "defective": ("defective", "faulty", "stopped working", "doesn't work"),
    "not_as_described": ("not as described", "doesn't match the description"),
    "arrived_damaged": ("arrived damaged", "damaged in transit", "damaged"),
    "changed_mind": ("changed mind", "changed my mind", "changed your mind", "change of mind"),
    "other": ("reason: other", "reason 'other'", "reason \"other\"", "reason other",
              "for another reason", "other reason"),
}


class _Text:
    """A message with the spans already read, so one phrase is read once ("Greeting Card" in a
    title is not a payment card)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken: list[tuple[int, int]] = []

    def free(self, m: re.Match[str]) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in self.taken)

    def take(self, rx: re.Pattern[str]) -> list[re.Match[str]]:
        out = [m for m in rx.finditer(self.text) if self.free(m)]
        self.taken += [m.span() for m in out]
        return out


def names_value(text: str, value: object) -> bool:
    """Whether ``text`` names an option value as a word of its own ('M' is not in 'maroon')."""
    word = re.escape(str(value).strip())
    return bool(word) and re.search(rf"(?<![A-Za-z0-9]){word}(?![A-Za-z0-9])", text,
                                    re.I) is not None


def _quantity(text: str, at: int) -> int | None:
    m = _QTY_BEFORE.search(text[max(0, at - 24):at])
    if m is None:
        return None
    word = m.group(1).lower()
    return _NUMBERS[word] if word in _NUMBERS else int(word)


def _items(t: _Text, known: Known) -> list[ItemTerm]:
    out: list[ItemTerm] = []
    for m in t.take(_VARIANT):
        out.append(ItemTerm(text=m.group(0), variant_ids=[m.group(0)],
                            quantity=_quantity(t.text, m.start())))
    titles: dict[str, list[str]] = {}
    for vid, (title, _) in known.variants.items():
        if title:
            titles.setdefault(title.lower(), []).append(vid)
    for title in sorted(titles, key=len, reverse=True):
        for m in t.take(re.compile(re.escape(title), re.I)):
            vids = sorted(titles[title])
            paren = _PAREN.match(t.text[m.end():])
            if paren:
                narrow = [v for v in vids if known.variants[v][1] and all(
                    names_value(paren.group(1), x) for x in known.variants[v][1].values())]
                vids = narrow or vids
            out.append(ItemTerm(text=m.group(0), variant_ids=vids,
                                quantity=_quantity(t.text, m.start())))
    return out


def _payments(t: _Text, known: Known) -> list[PaymentTerm]:
    found: list[tuple[int, PaymentTerm]] = []

    def add(m: re.Match[str], method: dict[str, Any] | None, kind: str | None) -> None:
        money = _MONEY_AFTER.match(t.text[m.end():])
        cents = round(float(money.group(1).replace(",", "")) * 100) if money else None
        mid = method["payment_method_id"] if method else None
        found.append((m.start(), PaymentTerm(text=m.group(0), method_id=mid,
                                             kind=method["kind"] if method else kind,
                                             amount_cents=cents)))

    for method in known.methods:
        for m in t.take(re.compile(re.escape(method["label"]), re.I)):
            add(m, method, None)
    for m in t.take(_METHOD_ID):
        add(m, next((x for x in known.methods if x["payment_method_id"] == m.group(0)), None),
            None)
    for m in t.take(_ENDING):
        add(m, next((x for x in known.methods if x["label"].endswith(m.group(1))), None),
            None)
    for kind, rx in _PAY_KINDS:
        for m in t.take(rx):
            same = [x for x in known.methods if x["kind"] == kind]
            add(m, same[0] if len(same) == 1 else None, kind)
    terms: list[PaymentTerm] = []
    for _, term in sorted(found, key=lambda p: p[0]):
        if not any((term.method_id or term.kind) == (x.method_id or x.kind) for x in terms):
            terms.append(term)
    return terms


def kind_of_label(label: str) -> str | None:
    """The kind of payment method a label names ("Gift card ending 1234" -> gift_card)."""
    return next((kind for kind, rx in _PAY_KINDS if rx.search(label)), None)


def _addresses(t: _Text, known: Known) -> list[str]:
    out = [m.group(0) for m in t.take(_ADDRESS_ID)]
    for a in known.addresses:
        names = [str(a.get(k, "")) for k in ("line1",) if a.get(k)]
        if a.get("label"):
            names += [f"{a['label']} address", f"to your {a['label']}", f"to {a['label']}"]
        for name in names:
            if t.take(re.compile(r"\b" + re.escape(name) + r"\b", re.I)):
                out.append(a["address_id"])
    if t.take(_DEFAULT_ADDRESS):
        out.append(known.default_address() or "default")
    return list(dict.fromkeys(out))


# every cue of REASON_CUES as a pattern (spaces also match '_' and '-'), longest cue first
_REASON_PATTERNS = tuple(
    (re.compile(r"\b" + re.escape(cue).replace(r"\ ", r"[\s_-]+") + r"\b", re.I), code)
    for cue, code in sorted(((cue, code) for code, words in REASON_CUES.items()
                             for cue in words), key=lambda p: len(p[0]), reverse=True))


def _reasons(t: _Text) -> list[str]:
    out: list[str] = []
    for rx, code in _REASON_PATTERNS:
        if t.take(rx):
            out.append(code)
    return list(dict.fromkeys(out))


def _replacement(text: str, items: list[ItemTerm]) -> str:
    """The words naming the replacement: after the first 'for', 'into' or 'with' that follows
    the exchanged item ("... 1 x Tee (red, M) from order O-1 for the same item (blue, M)")."""
    start = text.lower().find(items[0].text.lower()) if items else 0
    m = re.search(r"\b(?:for|into|with)\b\s+(.*?)(?:[?!.](?:\s|$)|$)", text[max(start, 0):],
                  re.I | re.S)
    return m.group(1).strip() if m else ""


def read_terms(message: str, kind: ActionKind, known: Known) -> ProposalTerms:
    """The terms ``message`` names for an action of ``kind``."""
    t = _Text(message)
    excluded = [m.group(1) for m in t.take(_EXCLUDED)]
    orders = [o for o in dict.fromkeys(m.group(0) for m in t.take(_ORDER)) if o not in excluded]
    items = _items(t, known)
    terms = ProposalTerms(orders=orders, excluded_orders=list(dict.fromkeys(excluded)),
                          items=items)
    if kind == "checkout":
        terms.shipping = list(dict.fromkeys(
            _SHIP_CODE.get(w, w.replace(" ", "_").replace("-", "_"))
            for m in t.take(_SHIPPING) for w in [(m.group(1) or m.group(2)).lower()]))
        terms.addresses = _addresses(t, known)
        terms.payments = _payments(t, known)
    if kind == "return":
        terms.refund_to = (["original"] if t.take(_REFUND_ORIGINAL) else []) + (
            ["gift_card"] if t.take(_REFUND_GIFT) else [])
    if kind == "exchange":  # one line per exchange: the first item named is the one sent back
        terms.items = items[:1]
        terms.replacement = _replacement(message, items[:1])
    if kind in ("cancel", "return", "exchange"):
        terms.reasons = _reasons(t)
    return terms
