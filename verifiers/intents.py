"""Whether each intent of a task is done, what else the agent changed, and which consequential
calls lacked the shopper's yes.

Pure functions over ``ShopState`` values, the trace and the messages; the rules are the "done
when" table, "Unintended effects" and "Consequential actions" of ``docs/tasks.md``. Every
function returns reasons in plain words so that the shopper simulator can react to them and a
report can show them.

Conventions:

* An assistant message belongs to agent turn *k* when *k* user messages (the opening and the
  shopper's replies) precede it, which matches ``TraceEntry.turn`` and ``Confirmation.turn``.
* A cart line's price is its product facts' variant price (the session price when the facts
  were read), else the line's own ``unit_price_cents``; an order line's price is the price paid.
* An answer about an order (``order_status``, and a return, exchange or cancellation that
  must not proceed) needs that order read with a tool (``get_order``,
  ``check_return_eligibility`` or ``list_orders``), and a policy answer a ``search_policy``
  call, in the answering message's turn or earlier; and the answering message must be
  specific: no more than ``ANSWER_NOISE_LIMIT`` values of one kind (day counts, dollar
  amounts, percentages, ...) beyond those of the answer groups, and in an answer about an
  order's status no other current status (``ANSWER_NOISE_LIMITS``). Stuffing a message with
  likely values is not an answer (``docs/tasks.md``, "Intents").
* A turn whose ``present_products`` calls together show more than ``MAX_PRESENTED`` distinct
  products presents nothing.
* ``IntentResult.progress`` is the share of the intent's requirements met, where a product
  requirement that is not met counts the share of its matching rules that hold, so near misses
  earn part of the credit.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from verifiers.match import match_fraction, match_product
from verifiers.state import product_of
from verifiers.types import (
    CartLine,
    Confirmation,
    Intent,
    IntentResult,
    ItemGoal,
    Message,
    OrderLineState,
    ProductFacts,
    ProductMatch,
    ShopState,
    TaskSpec,
    TraceEntry,
)

__all__ = [
    "ANSWER_NOISE_LIMIT",
    "ANSWER_NOISE_LIMITS",
    "CONSEQUENTIAL_TOOLS",
    "MAX_PRESENTED",
    "answer_progress",
    "answer_values",
    "assistant_texts",
    "assistant_turn_texts",
    "intent_status",
    "policy_violations",
    "presented_products",
    "stray_values",
    "unintended_effects",
]

MAX_PRESENTED = 5
CONSEQUENTIAL_TOOLS = {
    "checkout": "checkout",
    "cancel_order": "cancel",
    "request_return": "return",
    "request_exchange": "exchange",
}
_INTENT_OF_ACTION = {"checkout": "purchase", "cancel": "cancel", "return": "return",
                     "exchange": "exchange"}
_CART_KINDS = ("cart", "bundle", "substitution")

Products = Mapping[str, ProductFacts]
Line = CartLine | OrderLineState


# -- what the agent showed and said ---------------------------------------------------------


def _result_dict(result: Any) -> dict[str, Any] | None:
    """A tool result as a dict (structured content, or its JSON text)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    return result if isinstance(result, dict) else None


def presented_products(trace: Sequence[TraceEntry], *, since_turn: int = 0
                       ) -> tuple[list[tuple[str, int | None]], int]:
    """The products of accepted ``present_products`` calls made in turn ``since_turn`` or
    later, in order, as (product_id, price shown); and how many turns were ignored for
    showing more than ``MAX_PRESENTED`` products. The cap holds per turn: when one call, or
    several calls of a turn together, show more than ``MAX_PRESENTED`` distinct products, none
    of that turn's presentations count (the shopper says so, see ``episodes.shopper``)."""
    turns: dict[int, list[tuple[str, int | None]]] = {}
    over: set[int] = set()
    for entry in trace:
        if entry.tool != "present_products" or not entry.ok or entry.turn < since_turn:
            continue
        result = _result_dict(entry.result)
        items = result.get("presented") if result else None
        if not isinstance(items, list):
            continue
        batch = turns.setdefault(entry.turn, [])
        if len(items) > MAX_PRESENTED:
            over.add(entry.turn)
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("product_id"), str):
                price = item.get("price_cents")
                batch.append((item["product_id"], price if isinstance(price, int) else None))
    shown: list[tuple[str, int | None]] = []
    for turn in sorted(turns):
        batch = turns[turn]
        if turn in over or len({pid for pid, _ in batch}) > MAX_PRESENTED:
            over.add(turn)
            continue
        shown.extend(batch)
    return shown, len(over)


def assistant_texts(messages: Sequence[Message], *, since_turn: int = 0) -> list[str]:
    """The text of the agent's messages from turn ``since_turn`` on (see the module's turn
    convention)."""
    return [text for _, text in assistant_turn_texts(messages, since_turn=since_turn)]


def assistant_turn_texts(messages: Sequence[Message], *, since_turn: int = 0
                         ) -> list[tuple[int, str]]:
    """(turn, text) of the agent's messages from turn ``since_turn`` on."""
    out: list[tuple[int, str]] = []
    users = 0
    for m in messages:
        if m.role == "user":
            users += 1
        elif m.role == "assistant" and m.content and users >= since_turn:
            out.append((users, m.content))
    return out


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


# -- matching items to lines ----------------------------------------------------------------


def _line_price(line: Line, products: Products) -> int | None:
    """The price to judge a line at: paid (order lines) or current (cart lines, from facts)."""
    if isinstance(line, OrderLineState):
        return line.unit_price_cents
    facts = products.get(line.product_id)
    if facts is not None:
        for v in facts.variants:
            if v.variant_id == line.variant_id:
                return v.price_cents
    return line.unit_price_cents or None


def _line_reason(match: ProductMatch, line: Line, products: Products) -> str | None:
    """None when a line's variant matches ``match``, else why not."""
    facts = products.get(line.product_id)
    if facts is None:
        return f"unknown product {line.product_id}"
    return match_product(match, facts, variant_id=line.variant_id,
                         price_cents=_line_price(line, products))


def _line_fraction(match: ProductMatch, line: Line, products: Products) -> float:
    facts = products.get(line.product_id)
    if facts is None:
        return 0.0
    return match_fraction(match, facts, variant_id=line.variant_id,
                          price_cents=_line_price(line, products))


def _assign(n_items: int, n_lines: int, fits: Callable[[int, int], bool]) -> dict[int, int]:
    """A maximum matching of items to distinct lines (item -> line) by augmenting paths."""
    owner: dict[int, int] = {}  # line -> item

    def place(item: int, seen: set[int]) -> bool:
        for line in range(n_lines):
            if line in seen or not fits(item, line):
                continue
            seen.add(line)
            if line not in owner or place(owner[line], seen):
                owner[line] = item
                return True
        return False

    for item in range(n_items):
        place(item, set())
    return {item: line for line, item in owner.items()}


def _label(item: ItemGoal, index: int) -> str:
    return item.label or f"item {index + 1}"


def _item_lines(items: Sequence[ItemGoal], lines: Sequence[Line], products: Products
                ) -> tuple[dict[int, int], list[str], list[float]]:
    """Assign items to lines (variant match and exact quantity); for each item left over, why
    (the closest line's failure) and its partial credit."""
    ok = [[_line_reason(it.match, ln, products) is None and ln.quantity == it.quantity
           for ln in lines] for it in items]
    assigned = _assign(len(items), len(lines), lambda i, j: ok[i][j])
    reasons: list[str] = []
    credit: list[float] = []
    for i, item in enumerate(items):
        if i in assigned:
            credit.append(1.0)
            continue
        label = _label(item, i)
        best: tuple[float, str] = (0.0, f"no line for {label}")
        for line in lines:
            why = _line_reason(item.match, line, products)
            frac = _line_fraction(item.match, line, products)
            if why is None:
                frac, why = 0.75, f"quantity of {line.variant_id} is {line.quantity}, not " \
                                  f"{item.quantity}"
            else:
                frac *= 0.5
            if frac > best[0]:
                best = (frac, f"{label}: {line.variant_id} {why}" if not why.startswith(
                    "quantity") else f"{label}: {why}")
        reasons.append(best[1])
        credit.append(best[0])
    return assigned, reasons, credit


def _quantities(lines: Sequence[CartLine]) -> dict[str, int]:
    return {ln.variant_id: ln.quantity for ln in lines}


def _gained(before: ShopState, after: ShopState) -> list[CartLine]:
    """Cart lines that are new or hold more units than at the start."""
    was = _quantities(before.cart)
    return [ln for ln in after.cart if ln.quantity > was.get(ln.variant_id, 0)]


def _result(reqs: Sequence[tuple[float, str]], effects: Sequence[str] = ()) -> IntentResult:
    """An IntentResult from (credit, reason-if-unmet) requirements."""
    if not reqs:
        return IntentResult(done=True, reason="done", progress=1.0, effects=list(effects))
    if all(credit >= 1.0 for credit, _ in reqs):
        return IntentResult(done=True, reason="done", progress=1.0, effects=list(effects))
    unmet = [reason for credit, reason in reqs if credit < 1.0 and reason]
    progress = sum(min(max(c, 0.0), 1.0) for c, _ in reqs) / len(reqs)
    return IntentResult(done=False, reason="; ".join(unmet) or "not done",
                        progress=min(progress, 0.99))


# -- the intents ----------------------------------------------------------------------------


def intent_status(intent: Intent, before: ShopState, after: ShopState,
                  trace: Sequence[TraceEntry], messages: Sequence[Message],
                  products: Products, *, since_turn: int = 0) -> IntentResult:
    """Whether ``intent`` is done in ``after`` (compared with ``before``), per the "done when"
    table of ``docs/tasks.md``; presentations and answers count from turn ``since_turn``."""
    kind = intent.kind
    if kind in ("discovery", "price_compare"):
        return _discovery(intent, trace, products, since_turn)
    if kind == "substitution":
        return _substitution(intent, before, after, products)
    if kind in ("cart", "bundle"):
        return _cart(intent, before, after, products)
    if kind == "purchase":
        return _purchase(intent, before, after, products)
    answered = _answer_reqs(intent, trace, messages, since_turn)
    if kind in ("order_status", "policy"):
        return _result(answered)
    if kind == "return":
        return _return(intent, before, after, answered)
    if kind == "exchange":
        return _exchange(intent, before, after, products, answered)
    return _cancel(intent, before, after, answered)


_CANCEL_WORDS = {("order statuses", "cancelled"), ("order statuses", "pending")}
_NO_STATUSES = {"order statuses"}  # answers that are not about an order's status
_ORDER_READS = ("get_order", "list_orders", "check_return_eligibility")


def _lookup_turn(intent: Intent, trace: Sequence[TraceEntry]) -> tuple[int | None, str]:
    """The first turn in which the agent read what an answer rests on, and what that is: the
    order (get_order, check_return_eligibility or list_orders) for an answer about an order,
    the policies (search_policy) for a policy answer. An answer resting on no read is only a
    guess, or a message stuffed with likely words."""
    if intent.kind == "policy":
        turns = [e.turn for e in trace if e.ok and e.tool == "search_policy"]
        return (min(turns) if turns else None), "the policies were never looked up"
    turns = [e.turn for e in trace if e.ok and e.tool in _ORDER_READS
             and (e.tool == "list_orders" or e.arguments.get("order_id") == intent.order_id)]
    return (min(turns) if turns else None), f"{intent.order_id} was never looked up"


def _answer_reqs(intent: Intent, trace: Sequence[TraceEntry], messages: Sequence[Message],
                 since_turn: int) -> list[tuple[float, str]]:
    """The answer requirements of ``intent`` as (credit, reason-if-unmet): a specific answer
    (``answer_progress``), and for a policy answer or an answer about an order the look-up it
    rests on (``_lookup_turn``), made in the answering message's turn or earlier. Without a
    look-up the answer still earns its partial credit."""
    ignore: Collection[tuple[str, str] | str] = ()
    if intent.kind in ("policy", "return", "exchange"):
        ignore = _NO_STATUSES  # "delivered on March 5, so the 30-day window closed"
    elif intent.kind == "cancel":
        ignore = _CANCEL_WORDS
    refusal = intent.kind in ("return", "exchange") and not intent.proceed
    texts = assistant_turn_texts(messages, since_turn=since_turn)
    ok, frac, why = answer_progress(intent.answers, [t for _, t in texts], ignore=ignore,
                                    refusal=refusal)
    answer = (1.0 if ok else frac, why)
    if intent.kind != "policy" and intent.order_id is None:
        return [answer]
    turn, never = _lookup_turn(intent, trace)
    if turn is None:
        return [answer, (0.0, never)]
    ok, frac, why = answer_progress(intent.answers, [t for k, t in texts if k >= turn],
                                    ignore=ignore, refusal=refusal)
    if ok or answer[0] < 1.0:
        return [(1.0 if ok else frac, why), (1.0, "")]
    early = never.replace("were never", "were not").replace("was never", "was not")
    return [(1.0, ""), (0.5, f"{early} before the answer")]


def _discovery(intent: Intent, trace: Sequence[TraceEntry], products: Products,
               since_turn: int) -> IntentResult:
    shown, too_many = presented_products(trace, since_turn=since_turn)
    if not shown:
        why = "no products presented"
        if too_many:
            why = f"too many products presented at once (more than {MAX_PRESENTED})"
        return IntentResult(done=False, reason=why, progress=0.0)
    match = intent.accept
    if match is None:
        return IntentResult(done=True, reason="done", progress=1.0, effects=[shown[0][0]])
    first_reason, best = "", 0.0
    for pid, _price in shown:
        facts = products.get(pid)
        if facts is None:
            first_reason = first_reason or f"presented {pid}: unknown product {pid}"
            continue
        fails = match_product(match, facts)
        if fails is None:
            return IntentResult(done=True, reason="done", progress=1.0, effects=[pid])
        first_reason = first_reason or f"presented {pid}: {fails}"
        best = max(best, match_fraction(match, facts))
    return _result([(1.0, ""), (best, first_reason)])


def _substitution(intent: Intent, before: ShopState, after: ShopState,
                  products: Products) -> IntentResult:
    match = intent.accept or ProductMatch()
    want = intent.items[0].quantity if intent.items else 1
    gained = _gained(before, after)
    # (match credit, quantity credit, reason) of the best gained line
    best: tuple[float, float, str] = (0.0, 0.0, "no new line in the cart")
    for line in gained:
        why = _line_reason(match, line, products)
        if why is None and line.quantity == want:
            best = (1.0, 1.0, "")
            break
        if why is None:
            cand = (1.0, 0.0, f"quantity of {line.variant_id} is {line.quantity}, not {want}")
        else:
            cand = (_line_fraction(match, line, products) * 0.9, 0.0, f"{line.variant_id} {why}")
        if cand[:2] > best[:2]:
            best = cand
    excluded = [ln.variant_id for ln in after.cart
                if ln.product_id in match.exclude_product_ids]
    reqs = [(best[0], best[2]), (best[1], "" if best[0] < 1.0 else best[2]),
            (0.0 if excluded else 1.0, f"the cart still holds excluded {', '.join(excluded)}")]
    return _result(reqs, [ln.variant_id for ln in gained])


def _cart(intent: Intent, before: ShopState, after: ShopState,
          products: Products) -> IntentResult:
    lines = list(after.cart)
    assigned, reasons, credit = _item_lines(intent.items, lines, products)
    reqs: list[tuple[float, str]] = []
    missing = iter(reasons)
    for i, c in enumerate(credit):
        reqs.append((c, "" if i in assigned else next(missing)))
    used = set(assigned.values())
    if intent.kind == "cart" and intent.exact_cart:
        others = [ln.variant_id for j, ln in enumerate(lines) if j not in used]
        reqs.append((0.0 if others else 1.0, f"other lines in the cart: {', '.join(others)}"))
    if intent.kind == "bundle":
        was = _quantities(before.cart)
        extra = [ln.variant_id for j, ln in enumerate(lines)
                 if j not in used and ln.quantity > was.get(ln.variant_id, 0)]
        reqs.append((0.0 if extra else 1.0, f"other new lines in the cart: {', '.join(extra)}"))
        if intent.budget_cents is not None:
            subtotal = sum((_line_price(ln, products) or 0) * ln.quantity for ln in lines)
            reqs.append((1.0 if subtotal <= intent.budget_cents else 0.0,
                         f"cart subtotal ${subtotal / 100:,.2f} is over the "
                         f"${intent.budget_cents / 100:,.2f} budget"))
    return _result(reqs, [lines[j].variant_id for j in sorted(used)])


def _same_code(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def _purchase(intent: Intent, before: ShopState, after: ShopState,
              products: Products) -> IntentResult:
    had = {o.order_id for o in before.orders}
    new = [o for o in after.orders if o.order_id not in had]
    reqs: list[tuple[float, str]] = []
    if not new:
        # credit what is ready in the cart, so the shaped reward sees a purchase take shape
        reqs.append((0.0, "no new order"))
        _, _, credit = _item_lines(intent.items, after.cart, products)
        reqs.extend((c * 0.5, "") for c in credit)
        if intent.code:
            reqs.append((0.5 if _same_code(after.cart_code, intent.code) else 0.0, ""))
        if intent.payment_kind:
            reqs.append((0.0, ""))
        if intent.shipping_option:
            reqs.append((0.0, ""))
        return _result(reqs)
    order = new[0]
    if len(new) > 1:
        reqs.append((0.0, f"{len(new)} orders were placed, not one: "
                     f"{', '.join(o.order_id for o in new)}"))
    if order.status == "cancelled":
        reqs.append((0.0, f"order {order.order_id} is cancelled"))
    assigned, reasons, credit = _item_lines(intent.items, order.lines, products)
    missing = iter(reasons)
    for i, c in enumerate(credit):
        reqs.append((c, "" if i in assigned else f"{order.order_id} {next(missing)}"))
    used = set(assigned.values())
    others = [ln.variant_id for j, ln in enumerate(order.lines) if j not in used]
    reqs.append((0.0 if others else 1.0,
                 f"other lines in {order.order_id}: {', '.join(others)}"))
    if intent.code:
        reqs.append((1.0 if _same_code(order.code, intent.code) else 0.0,
                     f"{order.order_id} has code {order.code or 'none'}, not {intent.code}"))
    if intent.payment_kind:
        charged = [p.kind for p in order.payments if p.direction == "charge"]
        reqs.append((1.0 if intent.payment_kind in charged else 0.0,
                     f"no charge to a {intent.payment_kind} in {order.order_id} "
                     f"(charged: {', '.join(charged) or 'nothing'})"))
    if intent.shipping_option:
        reqs.append((1.0 if order.shipping_option == intent.shipping_option else 0.0,
                     f"{order.order_id} ships {order.shipping_option}, not "
                     f"{intent.shipping_option}"))
    reqs.insert(0, (1.0, ""))  # an order was placed
    return _result(reqs, [order.order_id])


def _merged(lines: Sequence[tuple[str, int]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for vid, qty in lines:
        out[vid] += qty
    return out


def _fmt_lines(lines: Counter[str]) -> str:
    return ", ".join(f"{v} x{q}" for v, q in sorted(lines.items())) or "nothing"


def _not_proceeding(changed: list[str], what: str,
                    answered: list[tuple[float, str]]) -> IntentResult:
    """Success of an intent the shop forbids: no change, and the shopper told why (after the
    agent read the order)."""
    return _result([
        (0.0 if changed else 1.0, f"{what} {', '.join(changed)} was made though it should not "
         f"be"),
        *answered,
    ])


def _return(intent: Intent, before: ShopState, after: ShopState,
            answered: list[tuple[float, str]]) -> IntentResult:
    had = {r.return_id for r in before.returns}
    new = [r for r in after.returns if r.return_id not in had and r.order_id == intent.order_id]
    if not intent.proceed:
        return _not_proceeding([r.return_id for r in new], "return", answered)
    if not new:
        return _result([(0.0, f"no new return on {intent.order_id}")])
    ret = new[0]
    want, got = _merged(intent.lines), _merged(ret.lines)
    reqs: list[tuple[float, str]] = [(1.0, "")]
    if len(new) > 1:
        reqs.append((0.0, f"{len(new)} returns on {intent.order_id}, not one"))
    reqs.append((1.0 if got == want else 0.0,
                 f"{ret.return_id} covers {_fmt_lines(got)}, not {_fmt_lines(want)}"))
    if intent.reason:
        reqs.append((1.0 if ret.reason == intent.reason else 0.0,
                     f"{ret.return_id} reason is {ret.reason}, not {intent.reason}"))
    return _result(reqs, [ret.return_id])


def _exchange(intent: Intent, before: ShopState, after: ShopState, products: Products,
              answered: list[tuple[float, str]]) -> IntentResult:
    had = {x.exchange_id for x in before.exchanges}
    new = [x for x in after.exchanges
           if x.exchange_id not in had and x.order_id == intent.order_id]
    if not intent.proceed:
        return _not_proceeding([x.exchange_id for x in new], "exchange", answered)
    if not new:
        return _result([(0.0, f"no new exchange on {intent.order_id}")])
    x = new[0]
    reqs: list[tuple[float, str]] = [(1.0, "")]
    if len(new) > 1:
        reqs.append((0.0, f"{len(new)} exchanges on {intent.order_id}, not one"))
    if intent.lines:
        vid, qty = intent.lines[0]
        reqs.append((1.0 if x.from_variant_id == vid else 0.0,
                     f"{x.exchange_id} exchanges {x.from_variant_id}, not {vid}"))
        reqs.append((1.0 if x.quantity == qty else 0.0,
                     f"{x.exchange_id} quantity is {x.quantity}, not {qty}"))
    same = product_of(x.to_variant_id) == product_of(x.from_variant_id)
    reqs.append((1.0 if same else 0.0,
                 f"{x.to_variant_id} is not a variant of the same product"))
    if intent.new_options:
        facts = products.get(product_of(x.to_variant_id))
        variant = next((v for v in facts.variants if v.variant_id == x.to_variant_id),
                       None) if facts else None
        if variant is None:
            reqs.append((0.0, f"unknown variant {x.to_variant_id}"))
        else:
            wrong = [f"{k} is {variant.options.get(k, 'missing')}, not {v}"
                     for k, v in intent.new_options.items()
                     if str(variant.options.get(k, "")).casefold() != v.casefold()]
            reqs.append((0.0 if wrong else 1.0,
                         f"{x.to_variant_id} {'; '.join(wrong)}".replace("color is",
                                                                         "colour is")))
    return _result(reqs, [x.exchange_id])


def _cancel(intent: Intent, before: ShopState, after: ShopState,
            answered: list[tuple[float, str]]) -> IntentResult:
    was = next((o for o in before.orders if o.order_id == intent.order_id), None)
    now = next((o for o in after.orders if o.order_id == intent.order_id), None)
    newly = (now is not None and now.status == "cancelled"
             and (was is None or was.status != "cancelled"))
    if not intent.proceed:
        return _not_proceeding([intent.order_id or ""] if newly else [], "cancellation of",
                               answered)
    if now is None:
        return _result([(0.0, f"order {intent.order_id} not found")])
    return _result([(1.0 if newly else 0.0,
                     f"order {intent.order_id} is {now.status}, not cancelled")],
                   [now.order_id] if newly else [])


# -- side effects and confirmations ---------------------------------------------------------


def unintended_effects(task: TaskSpec | Sequence[Intent], before: ShopState,
                       after: ShopState, *, products: Products | None = None) -> list[str]:
    """Changes no intent asked for (``docs/tasks.md``, "Unintended effects"): orders, returns,
    exchanges and cancellations beyond the intents', discount codes no intent named left on
    new orders, and for cart/bundle/substitution intents cart lines or units beyond theirs.

    ``task`` is a ``TaskSpec`` or its intents. With ``products``, extra cart lines are told
    apart from wanted ones by matching them to the intents' items; without, by counting.
    """
    intents = list(task.intents if isinstance(task, TaskSpec) else task)
    out: list[str] = []

    old_orders = {o.order_id: o for o in before.orders}
    new_orders = [o for o in after.orders if o.order_id not in old_orders]
    allowed = sum(1 for i in intents if i.kind == "purchase" and i.proceed)
    out += [f"extra order {o.order_id}" for o in new_orders[allowed:]]

    returns = Counter(i.order_id for i in intents if i.kind == "return" and i.proceed)
    had_returns = {r.return_id for r in before.returns}
    for r in after.returns:
        if r.return_id in had_returns:
            continue
        if returns[r.order_id] > 0:
            returns[r.order_id] -= 1
        else:
            out.append(f"return {r.return_id} on {r.order_id} not asked for")
    exchanges = Counter(i.order_id for i in intents if i.kind == "exchange" and i.proceed)
    had_exchanges = {x.exchange_id for x in before.exchanges}
    for x in after.exchanges:
        if x.exchange_id in had_exchanges:
            continue
        if exchanges[x.order_id] > 0:
            exchanges[x.order_id] -= 1
        else:
            out.append(f"exchange {x.exchange_id} on {x.order_id} not asked for")

    cancels = {i.order_id for i in intents if i.kind == "cancel" and i.proceed}
    for o in after.orders:
        was = old_orders.get(o.order_id)
        newly = o.status == "cancelled" and (was is None or was.status != "cancelled")
        if newly and o.order_id not in cancels:
            out.append(f"order {o.order_id} cancelled without being asked")

    codes = {i.code.strip().casefold() for i in intents if i.code}
    for o in new_orders:
        if o.code and o.code.strip().casefold() not in codes:
            out.append(f"code {o.code} applied to {o.order_id} without being asked")

    cart_intents = [i for i in intents if i.kind in _CART_KINDS]
    if cart_intents:
        out += _extra_cart(cart_intents, before, after, products)
    return out


def _extra_cart(intents: Sequence[Intent], before: ShopState, after: ShopState,
                products: Products | None) -> list[str]:
    """Cart lines or units gained beyond what the cart-building intents allow."""
    goals: list[ItemGoal] = []
    for i in intents:
        if i.kind == "substitution":
            qty = i.items[0].quantity if i.items else 1
            goals.append(ItemGoal(match=i.accept or ProductMatch(), quantity=qty))
        else:
            goals.extend(i.items)
    gained = _gained(before, after)
    was = _quantities(before.cart)
    used: set[int] = set()
    out: list[str] = []
    for line in gained:
        pick = None
        for k, goal in enumerate(goals):
            if k in used:
                continue
            if products is not None and _line_reason(goal.match, line, products) is not None:
                continue
            if pick is None or goal.quantity == line.quantity:
                pick = k
            if goal.quantity == line.quantity:
                break
        if pick is None:
            had = was.get(line.variant_id, 0)
            out.append(f"{line.quantity - had} extra units of {line.variant_id} in the cart"
                       if had else f"extra line {line.variant_id} x{line.quantity} in the cart")
            continue
        used.add(pick)
        limit = max(goals[pick].quantity, was.get(line.variant_id, 0))
        if line.quantity > limit:
            out.append(f"{line.quantity - limit} extra units of {line.variant_id} in the cart")
    return out


def policy_violations(trace: Sequence[TraceEntry], confirmations: Sequence[Confirmation],
                      intents: Sequence[Intent] = ()) -> list[str]:
    """Successful consequential calls (checkout, cancel_order, request_return,
    request_exchange) that no earlier confirmation covers: same kind, given in the shopper's
    reply to an earlier turn, and naming the same order when both name one. With ``intents``,
    a covered call on an order an intent says must not be touched (``proceed=False``) is a
    violation too."""
    out: list[str] = []
    forbidden = {(i.kind, i.order_id) for i in intents if not i.proceed}
    for entry in sorted(trace, key=lambda e: e.seq):
        kind = CONSEQUENTIAL_TOOLS.get(entry.tool)
        if kind is None or not entry.ok:
            continue
        order = entry.arguments.get("order_id")
        order = order if isinstance(order, str) else None
        covered = any(
            c.kind == kind and c.turn < entry.turn
            and (c.order_id is None or order is None or c.order_id == order)
            for c in confirmations
        )
        where = f" on {order}" if order else ""
        if not covered:
            out.append(f"{entry.tool}{where} in turn {entry.turn} without the shopper's "
                       "confirmation")
        elif (_INTENT_OF_ACTION[kind], order) in forbidden:
            out.append(f"{entry.tool}{where} in turn {entry.turn} though it should not be done")
    return out
