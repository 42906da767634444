"""Telling the shopper facts: ``state_facts``, whose arguments are the facts themselves."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from mcp_shop.facts import FACT_KEYS, SUBJECTS, FactKey, StatedFacts, subject_kind
from mcp_shop.server.app import ShopServer
from mcp_shop.server.inputs import SessionArg
from mcp_shop.stated import MAX_FACTS

__all__ = ["register"]


class FactArg(BaseModel):
    """One fact for the shopper."""

    model_config = ConfigDict(extra="forbid")

    fact: FactKey = Field(description="what kind of fact (see the tool's description)")
    about: Annotated[str | None, Field(max_length=200, description=(
        "what it is about: an order id ('O-1003'); a category ('headphones', 'electronics') "
        "or product id ('P-000042') or 'final_sale'; a shipping option; a loyalty tier; "
        "leave out for cancel_window_hours"))] = None
    value: Annotated[str | int | bool, Field(description=(
        "the value: a status or reason word, a tracking number or carrier, a date as "
        "YYYY-MM-DD, a whole number (days, percent, cents, months, hours) or true/false"))]


def _keys_doc() -> str:
    return "\n".join(f"- {key} (about {subject_kind(key)}): {meaning}"
                     for key, (_, _, meaning) in FACT_KEYS.items())


def register(server: ShopServer) -> None:
    """Add ``state_facts`` to ``server``."""
    shop = server.shop

    @server.tool(description=f"""Tell the shopper facts you looked up, as data: when you
answer a question about an order (status, tracking, delivery, why it cannot be cancelled,
returned or exchanged) or about the shop's policies (return windows, fees, shipping, warranty,
cancellation), state each fact here as well as saying it in words. The shopper is judged to
have been told exactly these facts: every one must be right, none may contradict another, and
a fact about another order or category than the one asked about does not answer the question.
Facts: up to {MAX_FACTS} at a time, each {{"fact": ..., "about": ..., "value": ...}}:
{_keys_doc()}
'about' names {'; '.join(f'for {k}: {v}' for k, v in SUBJECTS.items())}. get_order,
check_return_eligibility (reason_code) and search_policy (each section's facts) give the values.
Returns the facts as recorded; it does not say whether they are right.""")
    async def state_facts(
        facts: Annotated[list[FactArg], Field(min_length=1, max_length=MAX_FACTS, description=
                                              "The facts, each {\"fact\", \"about\", "
                                              "\"value\"} (see above).")],
        session_id: SessionArg = None,
    ) -> StatedFacts:
        return await server.shop_call(
            shop.state_facts, session_id,
            [f.model_dump() for f in facts])
