"""Cart tools: view and change the cart, discount codes, the customer profile, and checkout."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mcp_shop.policies import MAX_LINE_QUANTITY
from mcp_shop.server.app import ShopServer
from mcp_shop.server.inputs import (
    AddressIdArg,
    CodeArg,
    PaymentMethodIdArg,
    QuantityArg,
    SessionArg,
    ShippingOption,
    VariantIdArg,
)
from mcp_shop.views import CartView, CustomerView, OrderView

__all__ = ["register"]

_CART = ("Returns the updated cart: lines with unit prices and line totals, the discount, "
         "standard shipping and the total, all in integer cents.")


def register(server: ShopServer) -> None:
    """Add the cart, code, customer and checkout tools to ``server``."""
    shop = server.shop

    @server.tool()
    async def view_cart(session_id: SessionArg = None) -> CartView:
        """The cart: each line's variant, quantity, unit price and stock now available, the
        discount code and whether it applies, and the totals (integer cents; total_cents
        includes standard shipping)."""
        return await server.shop_call(shop.view_cart, session_id)

    @server.tool(description=f"""Add units of a product variant to the cart.

Adding a variant already in the cart increases its quantity (at most {MAX_LINE_QUANTITY} per
line). Stock is checked now and again at checkout. {_CART}""")
    async def add_to_cart(variant_id: VariantIdArg, quantity: QuantityArg = 1,
                          session_id: SessionArg = None) -> CartView:
        return await server.shop_call(shop.add_to_cart, session_id, variant_id, quantity)

    @server.tool(description=f"""Set the quantity of a cart line; 0 removes it.

Use it to change how many units of a variant are in the cart. {_CART}""")
    async def update_cart_item(
        variant_id: VariantIdArg,
        quantity: Annotated[int, Field(ge=0, le=MAX_LINE_QUANTITY, description=
                                       f"New quantity, 0 to {MAX_LINE_QUANTITY} (0 removes "
                                       "the line).")],
        session_id: SessionArg = None,
    ) -> CartView:
        return await server.shop_call(shop.update_cart_item, session_id, variant_id, quantity)

    @server.tool(description=f"""Remove a variant's line from the cart.

{_CART}""")
    async def remove_from_cart(variant_id: VariantIdArg,
                               session_id: SessionArg = None) -> CartView:
        return await server.shop_call(shop.remove_from_cart, session_id, variant_id)

    @server.tool(description=f"""Apply a discount code to the cart.

One code per order: to use another code, remove the current one first. A code that does not
apply (unknown, expired, already used, minimum spend not met, no items of its category) is
rejected with the reason and the cart is left unchanged. {_CART}""")
    async def apply_discount_code(code: CodeArg, session_id: SessionArg = None) -> CartView:
        return await server.shop_call(shop.apply_discount_code, session_id, code)

    @server.tool(description=f"""Remove the discount code from the cart.

{_CART}""")
    async def remove_discount_code(session_id: SessionArg = None) -> CartView:
        return await server.shop_call(shop.remove_discount_code, session_id)

    @server.tool()
    async def get_customer(session_id: SessionArg = None) -> CustomerView:
        """The customer's profile: name, loyalty tier, shipping addresses (address_id such as
        'A-1') and payment methods (payment_method_id such as 'PM-1'; cards masked, gift card
        balance in cents). Use these ids with checkout."""
        return await server.shop_call(shop.get_customer, session_id)

    @server.tool()
    async def checkout(
        payment_method_id: PaymentMethodIdArg,
        shipping_option: Annotated[ShippingOption, Field(description=
                                   "'standard' (5 days), 'express' (2 days) or 'next_day'; "
                                   "see search_policy('shipping') for prices.")] = "standard",
        address_id: Annotated[AddressIdArg | None, Field(description="Where to ship; default: "
                                                          "the customer's default address.")
                              ] = None,
        second_payment_method_id: Annotated[PaymentMethodIdArg | None, Field(
            description="A card or PayPal account paying what a gift card (the first "
            "method) does not cover.")] = None,
        session_id: SessionArg = None,
    ) -> OrderView:
        """Place an order for everything in the cart and charge the payment method(s).

        Only call this when the shopper has confirmed the cart, the shipping option and the
        payment. Stock, the discount code and the payment are checked; if anything fails,
        nothing is charged and the cart stays as it is. Returns the order (order_id such as
        'O-1042', status, lines, payments, tracking), amounts in integer cents.
        """
        return await server.shop_call(
            shop.checkout, session_id, payment_method_id=payment_method_id,
            shipping_option=shipping_option, address_id=address_id,
            second_payment_method_id=second_payment_method_id)
