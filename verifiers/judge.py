"""Judging a task's intents in order: each from its own turn, each on the orders, returns and
exchanges no earlier intent claimed, and each in the state where the shopper accepted it.

An intent the shopper accepted and moved on from has an ``IntentSnapshot`` (recorded by the
controller at that moment): it is judged in the snapshot's state, with the product facts, trace
and messages of that moment, so later events (a flash sale selling the product out, a price
rise) do not undo it. What the agent did later is still judged over the whole episode by the
unintended-effects and confirmation checks (``verifiers.reward``). An intent without a snapshot
(the last one, or any from an input recorded before snapshots existed) is judged on the final
state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verifiers.intents import intent_status
from verifiers.types import (
    Intent,
    IntentResult,
    IntentSnapshot,
    Message,
    ProductFacts,
    ShopState,
    TaskSpec,
    TraceEntry,
)

__all__ = ["judge_intents", "progress_score"]

_CONSUMABLE = ("cart", "bundle", "substitution")  # states a later checkout empties


def _shopper_replies(messages: Sequence[Message]) -> int:
    """How many replies the shopper gave (user messages after the opening)."""
    return max(0, sum(1 for m in messages if m.role == "user") - 1)


def _effective(intent: Intent, index: int, messages: Sequence[Message],
               intent_turns: Sequence[int]) -> tuple[Intent, int]:
    """The intent with its change of mind applied and the turn its presentations count from.

    When the controller recorded ``intent_turns`` it also passed the intents as they ended
    (changes applied), so both are used as given. Without them, a change of mind of the first
    intent is applied when the shopper gave that many replies, counting presentations from the
    turn whose reply carried it (later intents count from turn 0).
    """
    if index < len(intent_turns):
        return intent, intent_turns[index]
    change = intent.change
    if index > 0 or change is None or _shopper_replies(messages) < change.at_turn:
        return intent, 0
    update: dict[str, Any] = {}
    if change.accept is not None:
        update["accept"] = change.accept
    if change.items is not None:
        update["items"] = change.items
    return intent.model_copy(update=update), change.at_turn


def _claimed(before: ShopState, after: ShopState, ids: set[str]) -> ShopState:
    """``before`` plus the orders, returns and exchanges with these ids (so that a later
    intent does not count an earlier intent's new order as its own)."""
    if not ids:
        return before
    return before.model_copy(update={
        "orders": before.orders + [o for o in after.orders if o.order_id in ids],
        "returns": before.returns + [r for r in after.returns if r.return_id in ids],
        "exchanges": before.exchanges + [x for x in after.exchanges if x.exchange_id in ids],
    })


def _messages_until(messages: Sequence[Message], turn: int) -> list[Message]:
    """The conversation as the shopper had it when it replied to the agent's ``turn``-th
    message: everything before the shopper's reply to that turn."""
    out: list[Message] = []
    users = 0
    for m in messages:
        if m.role == "user":
            users += 1
            if users > turn + 1:
                break
        out.append(m)
    return out


def judge_intents(task: TaskSpec, before: ShopState, after: ShopState,
                  trace: Sequence[TraceEntry], messages: Sequence[Message],
                  products: Mapping[str, ProductFacts], *,
                  intent_turns: Sequence[int] = (),
                  snapshots: Sequence[IntentSnapshot] = ()) -> list[IntentResult]:
    """Every intent's status, in order.

    Each intent counts presentations and answers from its own turn (``intent_turns``, else see
    ``_effective``), and the orders, returns and exchanges an earlier intent fulfilled are not
    new for it. An intent with a snapshot is judged as the snapshot holds it (see the module
    docstring). A cart-building intent followed by a purchase is judged done when the shopper
    moved on from it (its ``intent_turns`` successor is set) and the purchase is done: the
    checkout emptied the cart it built. With several purchase intents, each takes the next new
    order (by number); extra orders fail the last one.
    """
    taken = {s.index: s for s in snapshots}
    results: list[IntentResult] = []
    claimed: set[str] = set()
    for i, raw in enumerate(task.intents):
        intent, since = _effective(raw, i, messages, intent_turns)
        now, facts, calls, said = after, products, trace, messages
        snap = taken.get(i)
        if snap is not None:
            intent, now, facts = snap.intent, snap.state, snap.products
            calls = [e for e in trace if e.turn <= snap.turn]
            said = _messages_until(messages, snap.turn)
        # a cancellation is judged against the true start: the order may be an earlier
        # intent's new one
        base = before if intent.kind == "cancel" else _claimed(
            before, now, claimed - {o.order_id for o in before.orders})
        view = now
        if intent.kind == "purchase" and any(t.kind == "purchase" for t in task.intents[i + 1:]):
            # a later purchase intent takes the later orders: this one gets the next new order
            known = {o.order_id for o in base.orders}
            fresh = [o for o in now.orders if o.order_id not in known][:1]
            view = now.model_copy(update={"orders": [
                o for o in now.orders if o.order_id in known or o in fresh]})
        # facts told count while the intent is current: up to the next intent's first turn
        until = intent_turns[i + 1] if i + 1 < len(intent_turns) and intent_turns[i + 1] else None
        result = intent_status(intent, base, view, calls, said, facts, since_turn=since,
                               until_turn=until)
        claimed.update(result.effects)
        results.append(result)
    for i, (intent, result) in enumerate(zip(task.intents, results, strict=True)):
        moved_on = i + 1 < len(intent_turns) and intent_turns[i + 1] > 0
        later_purchase = any(r.done and t.kind == "purchase"
                             for t, r in zip(task.intents[i + 1:], results[i + 1:], strict=True))
        if not result.done and intent.kind in _CONSUMABLE and moved_on and later_purchase:
            results[i] = IntentResult(done=True, progress=1.0,
                                      reason="done (the cart was then checked out)")
    return results


def progress_score(task: TaskSpec, before: ShopState, state: ShopState,
                   trace: Sequence[TraceEntry], messages: Sequence[Message],
                   products: Mapping[str, ProductFacts], *,
                   intent_turns: Sequence[int] = (),
                   snapshots: Sequence[IntentSnapshot] = ()) -> float:
    """The mean progress of the task's intents in ``state`` (0..1), for dense rewards."""
    results = judge_intents(task, before, state, trace, messages, products,
                            intent_turns=intent_turns, snapshots=snapshots)
    return sum(r.progress for r in results) / len(results)
