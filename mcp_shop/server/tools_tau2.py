"""The tau2-retail surface: tau2-bench retail's sixteen tools (docs/tau2-retail.md section 5)
and ``open_session``, over sessions holding an installed tau2 world.

Names and parameters are tau2's (``mcp_shop.tau2.records.TOOL_PARAMS``), each parameter
required, plus the optional ``session_id`` of every shop tool. Each call runs the domain's
:func:`mcp_shop.tau2.tools.call_tau2_tool` in the server's traced unit of work, so the call's
changes and its trace record commit together. Results are tau2's JSON (a record, a user id,
the product list, a calculation, the hand-over text); a refused call is a tool error with the
domain's code and tau2's message (``tau2_order_not_found: Order not found``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, inspect, select

from mcp_shop import sessions
from mcp_shop.db import read_tx, write_tx
from mcp_shop.errors import InvalidInput, InvalidState, NotFound
from mcp_shop.models.session import Tau2World
from mcp_shop.server.app import ShopServer
from mcp_shop.server.inputs import SessionArg
from mcp_shop.server.inputs_tau2 import (
    AddressText,
    CancelReasonArg,
    EmailArg,
    ExpressionArg,
    ItemIdArg,
    ItemIdList,
    NameArg,
    OrderIdArg,
    PaymentMethodIdArg,
    ProductIdArg,
    SummaryArg,
    UserIdArg,
    ZipArg,
)
from mcp_shop.tau2.records import WRITE_TOOLS, Order, Product, User, Variant
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.tools import call_tau2_tool

__all__ = ["INSTALL_HINT", "Tau2SessionOpened", "installed_worlds", "pick_world", "register"]


class Tau2SessionOpened(BaseModel):
    """A new session holding the tau2 world the database was given."""

    session_id: str = Field(description="the handle to pass as session_id to every other tool")
    world: str = Field(description="the world's database hash (tau2's hash of db.json)")


INSTALL_HINT = "mcp-shop import-tau2 PATH --db URL installs one from a tau2-bench checkout"


def installed_worlds(engine: Engine) -> list[str]:
    """The keys (database hashes) of the tau2 worlds installed in ``engine``'s database."""
    if not inspect(engine).has_table("tau2_world"):
        return []
    T = Tau2World.__table__  # type: ignore[attr-defined]  # noqa: N806
    with read_tx(engine) as conn:
        return [str(k) for k in conn.execute(select(T.c.key).order_by(T.c.key)).scalars()]


def pick_world(engine: Engine, world: str | None = None) -> str:
    """The key of the installed world named by ``world`` (a key or a unique prefix of one,
    at least 6 characters), or of the only one installed when ``world`` is None."""
    worlds = installed_worlds(engine)
    if not worlds:
        raise InvalidState(f"this database holds no tau2 retail world: {INSTALL_HINT}")
    if world is None:
        if len(worlds) == 1:
            return worlds[0]
        raise InvalidInput(f"this database holds {len(worlds)} tau2 worlds; name one of "
                           f"{', '.join(w[:12] for w in worlds)} (--world)", worlds=worlds)
    found = [w for w in worlds if w.startswith(world)] if len(world) >= 6 else []
    if len(found) != 1:
        raise NotFound(f"no single tau2 world of this database has the key {world!r}; "
                       f"installed: {', '.join(w[:12] for w in worlds)}", worlds=worlds)
    return found[0]


# The address parameters, shared by the two tools that change an address.
Address1 = Annotated[AddressText, Field(description="Street line, e.g. '12 Elm Street'.")]
Address2 = Annotated[AddressText, Field(description="Second line (apartment, suite), or ''.")]
City = Annotated[AddressText, Field(description="City, e.g. 'Portland'.")]
State = Annotated[AddressText, Field(description="State or region code, e.g. 'OR'.")]
Country = Annotated[AddressText, Field(description="Country, e.g. 'USA'.")]
Zip = Annotated[AddressText, Field(description="Postcode, e.g. '97201'.")]


def register(server: ShopServer, world: str | None = None) -> str:
    """Add the tau2-retail tools to ``server`` (a server of the tau2-retail surface) whose
    ``open_session`` opens sessions of the installed world ``world`` (see :func:`pick_world`);
    returns the world's key."""
    if server.surface != "tau2-retail":
        raise ValueError(f"the tau2 tools go on a tau2-retail server, not {server.surface}")
    shop = server.shop
    key = pick_world(shop.engine, world)

    def body(session_id: str, name: str, arguments: dict[str, Any]) -> Any:
        tx = write_tx if name in WRITE_TOOLS else read_tx
        with tx(shop.engine) as conn:  # the unit's transaction, inside a tool call
            sessions.read_session(conn, session_id)  # an unknown handle is said to be one
            return call_tau2_tool(conn, session_id, name, arguments)

    async def call(name: str, session_id: str | None, **arguments: Any) -> Any:
        return await server.shop_call(body, session_id, name, arguments)

    @server.tool()
    async def open_session() -> Tau2SessionOpened:
        """Open a new, isolated session holding the tau2 retail world (its users, orders and
        products as they were installed) and return its session_id.

        Call this once at the start and pass the returned session_id to every other tool.
        Nothing done in one session is visible in another.
        """
        sid = await server.run_db(open_tau2_session, shop.engine, key)
        server.note_session(sid)
        return Tau2SessionOpened(session_id=sid, world=key)

    @server.tool()
    async def find_user_id_by_email(email: EmailArg, session_id: SessionArg = None) -> str:
        """The user id of the customer with this email address (e.g. 'ana_silva_1234'). Use
        it first to locate the customer; if it fails, try find_user_id_by_name_zip."""
        return await call("find_user_id_by_email", session_id, email=email)

    @server.tool()
    async def find_user_id_by_name_zip(
        first_name: Annotated[NameArg, Field(description="Given name, e.g. 'Ana'.")],
        last_name: Annotated[NameArg, Field(description="Family name, e.g. 'Silva'.")],
        zip: ZipArg,  # noqa: A002 - tau2's parameter name
        session_id: SessionArg = None,
    ) -> str:
        """The user id of the customer with this first name, last name and postcode of their
        default address. Use it when the customer cannot give (or mistypes) their email."""
        return await call("find_user_id_by_name_zip", session_id, first_name=first_name,
                          last_name=last_name, zip=zip)

    @server.tool()
    async def get_user_details(user_id: UserIdArg, session_id: SessionArg = None) -> User:
        """A customer's record: name, email, default address, payment methods (by id: cards
        with brand and last four digits, PayPal, gift cards with their balance in dollars)
        and the ids of their orders."""
        return await call("get_user_details", session_id, user_id=user_id)

    @server.tool()
    async def get_order_details(order_id: OrderIdArg, session_id: SessionArg = None) -> Order:
        """An order's record: its user, shipping address, items (one entry per unit, with
        item id, product id, price paid and options), status, shipments with tracking ids,
        payments and refunds, and any cancellation, return or exchange it records."""
        return await call("get_order_details", session_id, order_id=order_id)

    @server.tool()
    async def get_product_details(product_id: ProductIdArg,
                                  session_id: SessionArg = None) -> Product:
        """A product and all its items (variants), keyed by item id: options, whether it can
        be bought now, and price in dollars."""
        return await call("get_product_details", session_id, product_id=product_id)

    @server.tool()
    async def get_item_details(item_id: ItemIdArg, session_id: SessionArg = None) -> Variant:
        """One item (variant): its options, whether it can be bought now, and its price in
        dollars."""
        return await call("get_item_details", session_id, item_id=item_id)

    @server.tool()
    async def list_all_product_types(session_id: SessionArg = None) -> dict[str, str]:
        """Every product type of the shop: its name and its product id, sorted by name. Use
        get_product_details for a product's items."""
        return await call("list_all_product_types", session_id)

    @server.tool()
    async def cancel_pending_order(
        order_id: OrderIdArg,
        reason: Annotated[CancelReasonArg, Field(description="Why the customer cancels: "
                                                 "'no longer needed' or 'ordered by "
                                                 "mistake'.")],
        session_id: SessionArg = None,
    ) -> Order:
        """Cancel an order whose status is 'pending'; every payment is refunded to the method
        that made it. Only after the customer confirmed it. Returns the updated order."""
        return await call("cancel_pending_order", session_id, order_id=order_id,
                          reason=reason)

    @server.tool()
    async def modify_pending_order_address(
        order_id: OrderIdArg, address1: Address1, address2: Address2, city: City,
        state: State, country: Country, zip: Zip,  # noqa: A002 - tau2's parameter name
        session_id: SessionArg = None,
    ) -> Order:
        """Ship a pending order (status 'pending' or 'pending (item modified)') to another
        address. Only after the customer confirmed it. Returns the updated order."""
        return await call("modify_pending_order_address", session_id, order_id=order_id,
                          address1=address1, address2=address2, city=city, state=state,
                          country=country, zip=zip)

    @server.tool()
    async def modify_pending_order_items(
        order_id: OrderIdArg,
        item_ids: Annotated[ItemIdList, Field(description="The order's item ids to change, "
                                              "one per unit, e.g. ['1008292230'].")],
        new_item_ids: Annotated[ItemIdList, Field(description="The item each one becomes, in "
                                                  "the same order: another item of the same "
                                                  "product that can be bought now.")],
        payment_method_id: Annotated[PaymentMethodIdArg, Field(description="The user's "
                                                               "payment method that pays or "
                                                               "receives the price "
                                                               "difference; a gift card must "
                                                               "cover it.")],
        session_id: SessionArg = None,
    ) -> Order:
        """Change units of a pending order (status exactly 'pending') into other items of the
        same products (another size, colour, ...). This can be done once per order: gather
        every change first and call it once, after the customer confirmed. Returns the
        updated order, now 'pending (item modified)'."""
        return await call("modify_pending_order_items", session_id, order_id=order_id,
                          item_ids=item_ids, new_item_ids=new_item_ids,
                          payment_method_id=payment_method_id)

    @server.tool()
    async def modify_pending_order_payment(
        order_id: OrderIdArg,
        payment_method_id: Annotated[PaymentMethodIdArg, Field(description="The user's "
                                                               "payment method to pay with "
                                                               "instead; a gift card must "
                                                               "cover the amount.")],
        session_id: SessionArg = None,
    ) -> Order:
        """Pay a pending order with another payment method of its user (the order must have
        been paid by a single method, and the new one must differ). The old method is
        refunded. Only after the customer confirmed it. Returns the updated order."""
        return await call("modify_pending_order_payment", session_id, order_id=order_id,
                          payment_method_id=payment_method_id)

    @server.tool()
    async def modify_user_address(
        user_id: UserIdArg, address1: Address1, address2: Address2, city: City,
        state: State, country: Country, zip: Zip,  # noqa: A002 - tau2's parameter name
        session_id: SessionArg = None,
    ) -> User:
        """Replace a customer's default address (their orders keep theirs). Only after the
        customer confirmed it. Returns the updated user."""
        return await call("modify_user_address", session_id, user_id=user_id,
                          address1=address1, address2=address2, city=city, state=state,
                          country=country, zip=zip)

    @server.tool()
    async def exchange_delivered_order_items(
        order_id: OrderIdArg,
        item_ids: Annotated[ItemIdList, Field(description="The delivered item ids to send "
                                              "back, one per unit.")],
        new_item_ids: Annotated[ItemIdList, Field(description="The item each one is "
                                                  "exchanged for, in the same order: another "
                                                  "item of the same product that can be "
                                                  "bought now.")],
        payment_method_id: Annotated[PaymentMethodIdArg, Field(description="The user's "
                                                               "payment method that pays or "
                                                               "receives the price "
                                                               "difference; a gift card must "
                                                               "cover it.")],
        session_id: SessionArg = None,
    ) -> Order:
        """Request an exchange of units of a delivered order for other items of the same
        products. This can be done once per order: gather every unit first and call it once,
        after the customer confirmed. Returns the order, now 'exchange requested'."""
        return await call("exchange_delivered_order_items", session_id, order_id=order_id,
                          item_ids=item_ids, new_item_ids=new_item_ids,
                          payment_method_id=payment_method_id)

    @server.tool()
    async def return_delivered_order_items(
        order_id: OrderIdArg,
        item_ids: Annotated[ItemIdList, Field(description="The delivered item ids to return, "
                                              "one per unit (an item bought twice may be "
                                              "listed twice).")],
        payment_method_id: Annotated[PaymentMethodIdArg, Field(description="Where the "
                                                               "refund goes: the method that "
                                                               "paid for the order, or a gift "
                                                               "card of the user.")],
        session_id: SessionArg = None,
    ) -> Order:
        """Request a return of units of a delivered order for a refund. Only after the
        customer confirmed it. Returns the order, now 'return requested'."""
        return await call("return_delivered_order_items", session_id, order_id=order_id,
                          item_ids=item_ids, payment_method_id=payment_method_id)

    @server.tool()
    async def calculate(expression: ExpressionArg, session_id: SessionArg = None) -> str:
        """The value of an arithmetic expression, rounded to two decimals, as text
        (e.g. '108.26'). Use it for sums of prices, refunds and differences."""
        return await call("calculate", session_id, expression=expression)

    @server.tool()
    async def transfer_to_human_agents(summary: SummaryArg,
                                       session_id: SessionArg = None) -> str:
        """Hand the conversation over to a person, with a summary of the customer's request.
        Use it only when the customer asks for a person, or when the request is one these
        tools and the policy cannot serve."""
        return await call("transfer_to_human_agents", session_id, summary=summary)

    return key
