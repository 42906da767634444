"""What the agent showed and said: presented products and the text of its messages, read one
way for the shopper simulator and the verifiers alike.

An assistant message belongs to agent turn *k* when *k* user messages (the opening and the
shopper's replies) precede it, which matches ``TraceEntry.turn`` and ``Confirmation.turn``. A
turn whose ``present_products`` calls together show more than ``MAX_PRESENTED`` distinct
products presents nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from verifiers.types import Message, TraceEntry

__all__ = [
    "MAX_PRESENTED",
    "PRODUCT_ID",
    "assistant_texts",
    "assistant_turn_texts",
    "presented_products",
    "turn_presented",
]

MAX_PRESENTED = 5


# -- what the agent showed and said ---------------------------------------------------------


def _result_dict(result: Any) -> dict[str, Any] | None:
    """A tool result as a dict (structured content, or its JSON text)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    return result if isinstance(result, dict) else None


PRODUCT_ID = re.compile(r"\bP-\d{1,9}\b")
"""A product id as an agent may name it in a message."""


def turn_presented(entries: Sequence[TraceEntry], text: str | None = None
                   ) -> tuple[list[tuple[str, int | None]], bool]:
    """What one agent turn shows the shopper, in order, as (product_id, price shown): the
    products of its accepted ``present_products`` calls (with the price the call showed), then
    the product ids its message names (no price: judged at the lowest in-stock price); and
    whether the turn is over the cap (more than ``MAX_PRESENTED`` distinct products, or one
    call of more), in which case none of it counts."""
    batch: list[tuple[str, int | None]] = []
    over = False
    for entry in entries:
        if entry.tool != "present_products" or not entry.ok:
            continue
        result = _result_dict(entry.result)
        items = result.get("presented") if result else None
        if not isinstance(items, list):
            continue
        over = over or len(items) > MAX_PRESENTED
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("product_id"), str):
                price = item.get("price_cents")
                batch.append((item["product_id"],
                              price if isinstance(price, int) and not isinstance(price, bool)
                              else None))
    batch += [(pid, None) for pid in PRODUCT_ID.findall(text or "")]
    over = over or len({pid for pid, _ in batch}) > MAX_PRESENTED
    return batch, over


def presented_products(trace: Sequence[TraceEntry], *, since_turn: int = 0,
                       messages: Sequence[Message] = ()
                       ) -> tuple[list[tuple[str, int | None]], int]:
    """What the agent showed the shopper from turn ``since_turn`` on (``turn_presented`` of
    each turn, in turn order); and how many turns were ignored for being over the cap (the
    shopper says so, see ``episodes.shopper``). With ``messages``, product ids the agent named
    in a message count as shown, exactly as the shopper reads them."""
    entries: dict[int, list[TraceEntry]] = {}
    for entry in sorted(trace, key=lambda e: e.seq):
        if entry.turn >= since_turn:
            entries.setdefault(entry.turn, []).append(entry)
    texts: dict[int, list[str]] = {}
    for turn, text in assistant_turn_texts(messages, since_turn=since_turn):
        texts.setdefault(turn, []).append(text)
    shown: list[tuple[str, int | None]] = []
    over = 0
    for turn in sorted(entries.keys() | texts.keys()):
        batch, too_many = turn_presented(entries.get(turn, []), "\n".join(texts.get(turn, [])))
        if too_many:
            over += 1
        else:
            shown.extend(batch)
    return shown, over


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

