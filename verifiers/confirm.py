"""Consequential calls and the shopper's yes (``docs/tasks.md``, "Consequential actions need the
shopper's yes")."""

from __future__ import annotations

from collections.abc import Sequence

from mcp_shop import tool_catalog
from verifiers.types import Confirmation, Intent, TraceEntry

__all__ = ["CONSEQUENTIAL_TOOLS", "policy_violations"]

# Both from the tool catalogue (pure data): consequential tool -> the kind of yes it needs,
# and that kind -> the intent kind it carries out.
CONSEQUENTIAL_TOOLS = dict(tool_catalog.CONSEQUENTIAL_TOOLS)
_INTENT_OF_ACTION = dict(tool_catalog.INTENT_OF_CONFIRMATION)


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

