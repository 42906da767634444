"""What the agent showed and said: presented products and the text of its messages, read one
way for the shopper simulator and the verifiers alike.

An assistant message belongs to agent turn *k* when *k* user messages (the opening and the
shopper's replies) precede it, which matches ``TraceEntry.turn`` and ``Confirmation.turn``. A
turn whose ``present_products`` calls together show more than ``MAX_PRESENTED`` distinct
products presents nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from verifiers.types import Message, TraceEntry

__all__ = ["MAX_PRESENTED", "assistant_texts", "assistant_turn_texts", "presented_products"]

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

