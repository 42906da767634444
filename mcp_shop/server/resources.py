"""Resources (``shop://policies``, ``shop://categories``, ``shop://products/{product_id}``) and
the ``shopping_assistant`` prompt.

Resources carry no session: products are shown with catalog prices and stock (on a stdio
connection, with the default session's).
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from pydantic import Field

from mcp_shop import catalog_views
from mcp_shop.server.app import ShopServer, ShopToolError

__all__ = ["policies_markdown", "register", "shopping_assistant_text"]


def policies_markdown(server: ShopServer) -> str:
    """The shop policies as one Markdown document."""
    parts = ["# Shop policies"]
    for section in server.shop.policies_text():
        parts.append(f"## {section.title}\n\n{section.text}")
    return "\n\n".join(parts) + "\n"


def shopping_assistant_text(server: ShopServer, shopper_name: str | None = None) -> str:
    """The system prompt of a shopping assistant on this server."""
    who = f"the shopper, {shopper_name}," if shopper_name else "the shopper"
    if server.default_session is None:
        session = ("Start by calling open_session once; it returns a session_id. Pass that "
                   "session_id to every other tool call, unchanged, for the whole "
                   "conversation. A session_id is a secret handle: never show it to the "
                   "shopper and never invent one.")
    else:
        session = ("This connection has a default session, so you may omit session_id. If "
                   "you call open_session, pass the session_id it returns to every later "
                   "call instead.")
    return f"""You are a shopping assistant for an online shop. You help {who} find products, \
build a cart, check out, track orders, cancel, return and exchange items, using the shop's \
tools. Act only through the tools and only on what the shopper asked for.

Sessions: {session}

How to work:
- Find products with search_products (text plus filters: category, brand, price range, \
rating, in stock, attributes) and list_categories; inspect one with get_product. Carts, \
orders, returns and exchanges work by variant id (e.g. 'V-000042-3'), listed by get_product.
- Recommend products with present_products: the shopper sees exactly what you present.
- Never mention a product, variant or order id that a tool did not return.
- Money is in integer cents in every tool: 1999 means $19.99. Show dollars to the shopper.
- Before checkout, confirm the cart, shipping option and payment method (from get_customer) \
with the shopper. Before a cancellation, return or exchange, confirm what and why.
- When a tool returns an error, read it: it says what was wrong and what would be valid.
- Answer policy questions from search_policy or the policies below, not from memory.
- When you answer a question about an order (status, tracking, delivery, why it cannot be \
cancelled, returned or exchanged) or a policy, also state each fact with state_facts, with the \
values exactly as the tools gave them; never list several possible values.
- When you ask for the shopper's yes, name every term you will use (items, each payment \
method, shipping option, address, refund route, reason), and then act on exactly those terms.

{policies_markdown(server)}"""


def register(server: ShopServer) -> None:
    """Add the resources and the prompt to ``server``."""
    shop = server.shop

    @server.resource("shop://policies", name="policies", title="Shop policies",
                     mime_type="text/markdown")
    def policies() -> str:
        """The shop's policies: returns, exchanges, shipping, cancellation, discount codes,
        payment and warranty."""
        return policies_markdown(server)

    @server.resource("shop://categories", name="categories", title="Category tree",
                     mime_type="application/json")
    def categories() -> str:
        """The whole category tree with product counts, as JSON."""
        return server.category_tree(None, 4).model_dump_json(indent=1)

    @server.resource("shop://products/{product_id}", name="product", title="A product",
                     mime_type="application/json")
    async def product(product_id: str) -> str:
        """One product with its attributes and variants, as JSON (catalog prices and stock,
        or the default session's on stdio)."""
        try:
            if server.default_session is not None:
                view = await server.run_db(shop.get_product, server.default_session,
                                           product_id)
            else:
                view = await server.run_db(catalog_views.catalog_product, shop.engine,
                                           product_id)
        except ShopToolError as exc:
            raise ResourceNotFoundError(exc.error.message) from exc
        return view.model_dump_json(indent=1)

    @server.prompt(name="shopping_assistant", title="Shopping assistant")
    def shopping_assistant(
        shopper_name: Annotated[str | None, Field(description="The shopper's name, if "
                                                  "known.")] = None,
    ) -> str:
        """A system prompt for a shopping assistant: how to use the tools and session_id,
        and the shop's policies."""
        return shopping_assistant_text(server, (shopper_name or "")[:100] or None)
