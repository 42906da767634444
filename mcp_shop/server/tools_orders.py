"""Order tools: history, one order, cancellation, return eligibility, returns, exchanges, and
the policy search."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcp_shop import catalog_views
from mcp_shop.catalog_views import PolicySearchResult
from mcp_shop.server.app import ShopServer
from mcp_shop.server.inputs import (
    CancelReason,
    ExchangeReason,
    OrderIdArg,
    QuantityArg,
    RefundTo,
    ReturnItem,
    ReturnReason,
    SessionArg,
    VariantIdArg,
)
from mcp_shop.server.results import OrderHistory, ReturnEligibility
from mcp_shop.views import ExchangeView, OrderView, ReturnView

__all__ = ["register"]


def register(server: ShopServer) -> None:
    """Add the order, return, exchange and policy tools to ``server``."""
    shop = server.shop

    @server.tool()
    async def list_orders(session_id: SessionArg = None) -> OrderHistory:
        """The customer's orders, newest first: order_id (e.g. 'O-1042'), status (pending,
        processing, shipped, delivered, cancelled), date placed, total in cents and item
        count. Use get_order for the lines, payments and tracking of one order."""
        return await server.shop_call(lambda sid: OrderHistory(orders=shop.list_orders(sid)),
                                      session_id)

    @server.tool()
    async def get_order(order_id: OrderIdArg, session_id: SessionArg = None) -> OrderView:
        """One order in full: status, lines (variant_id, quantity, unit price, what was
        already returned or exchanged), payments and refunds, shipments with tracking numbers
        and delivery dates, returns and exchanges. Amounts are integer cents."""
        return await server.shop_call(shop.get_order, session_id, order_id)

    @server.tool()
    async def cancel_order(
        order_id: OrderIdArg,
        reason: Annotated[CancelReason, Field(description="Why the shopper cancels.")],
        session_id: SessionArg = None,
    ) -> OrderView:
        """Cancel an order that is still pending (not yet processing, shipped or delivered);
        every payment is refunded and the stock released. Delivered orders cannot be
        cancelled: use request_return instead. Returns the updated order."""
        return await server.shop_call(shop.cancel_order, session_id, order_id, reason)

    @server.tool()
    async def check_return_eligibility(order_id: OrderIdArg,
                                       session_id: SessionArg = None) -> ReturnEligibility:
        """For each line of an order: whether it can be returned or exchanged now and why
        (delivery, return window, final sale), how many units, when the window ends, the
        restocking fee percent and the refund per unit in cents. Check this before
        request_return or request_exchange."""
        return await server.shop_call(lambda sid: ReturnEligibility(
            order_id=order_id, lines=shop.check_return_eligibility(sid, order_id)), session_id)

    @server.tool()
    async def request_return(
        order_id: OrderIdArg,
        items: Annotated[list[ReturnItem], Field(min_length=1, max_length=20, description=
                                                 "The lines to return: [{\"variant_id\": "
                                                 "\"V-000042-3\", \"quantity\": 1}, ...].")],
        reason: Annotated[ReturnReason, Field(description="Why the items come back; "
                                              "'defective', 'not_as_described' and "
                                              "'arrived_damaged' waive any restocking fee.")],
        refund_to: Annotated[RefundTo, Field(description="'original' refunds the payment "
                                             "methods used; 'gift_card' gives store "
                                             "credit.")] = "original",
        session_id: SessionArg = None,
    ) -> ReturnView:
        """Return units of delivered order lines for a refund (within the return window;
        final-sale items cannot be returned). Returns the return request with the refund
        and any restocking fee in cents. Only do this when the shopper asked for it."""
        pairs = [(i.variant_id, i.quantity) for i in items]
        return await server.shop_call(shop.request_return, session_id, order_id, pairs,
                                      reason=reason, refund_to=refund_to)

    @server.tool()
    async def request_exchange(
        order_id: OrderIdArg,
        variant_id: Annotated[VariantIdArg, Field(description="The ordered variant to send "
                                                  "back, e.g. 'V-000042-1'.")],
        new_variant_id: Annotated[VariantIdArg, Field(description="Another variant of the "
                                                      "same product to receive instead, e.g. "
                                                      "'V-000042-2' (see get_product).")],
        reason: Annotated[ExchangeReason, Field(description="Why the shopper exchanges.")],
        quantity: QuantityArg = 1,
        session_id: SessionArg = None,
    ) -> ExchangeView:
        """Exchange units of a delivered order line for another variant (size, colour, ...)
        of the same product, within the return window and if the new variant is in stock.
        The price difference (cents) is charged or refunded; the replacement ships at once.
        Only do this when the shopper asked for it."""
        return await server.shop_call(shop.request_exchange, session_id, order_id, variant_id,
                                      new_variant_id, quantity=quantity, reason=reason)

    @server.tool()
    async def search_policy(
        query: Annotated[str, Field(min_length=1, max_length=200, description="What the "
                                    "shopper asks about, e.g. 'return window for electronics' "
                                    "or 'express shipping cost'.")],
        session_id: SessionArg = None,
    ) -> PolicySearchResult:
        """Search the shop's policies (returns, exchanges, shipping, cancellation, discount
        codes, payment, warranty) and return the matching sections, best first. Quote these
        when the shopper asks what is allowed."""
        await server.require_session(session_id)
        return catalog_views.search_policies(shop.policies_text(), query,
                                             policies=shop.policies)
