"""Catalog tools: open a session, search, product details, categories, similar products,
comparisons, and presenting products to the shopper."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from mcp_shop import catalog_views
from mcp_shop.catalog_views import CategoryTree, Comparison
from mcp_shop.search import SearchPage, SearchQuery
from mcp_shop.server.app import ShopServer
from mcp_shop.server.inputs import ProductIdArg, ProductIdList, SessionArg, SortOrder
from mcp_shop.server.results import (
    PresentationResult,
    PresentedProduct,
    SessionOpened,
    SimilarProducts,
)
from mcp_shop.views import ProductView

__all__ = ["register"]


Cents = Annotated[int | None, Field(ge=0, le=100_000_000)]


def register(server: ShopServer) -> None:
    """Add the catalog tools to ``server``."""
    shop = server.shop

    @server.tool()
    async def open_session(
        seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="Seeds the customer, "
                                   "their order history and discount codes; the same seed "
                                   "gives the same starting world.")] = 0,
        tier: Annotated[Literal["standard", "silver", "gold"] | None, Field(
            description="Force the customer's loyalty tier (default: from the seed).")] = None,
    ) -> SessionOpened:
        """Open a new, isolated shopping session and return its session_id.

        Call this once at the start and pass the returned session_id to every other tool. Each
        session has its own customer (addresses, payment methods, order history), cart, stock
        levels and simulated clock; nothing done in one session is visible in another.
        """
        view = await server.run_db(shop.open_session, seed=seed, tier=tier)
        server.note_session(view.session_id)
        return SessionOpened(session_id=view.session_id, customer_id=view.customer_id,
                             clock=view.clock)

    @server.tool()
    async def search_products(
        query: Annotated[str, Field(max_length=200, description="Free text, e.g. 'wireless "
                                    "noise cancelling headphones'. Empty to browse by "
                                    "filters only.")] = "",
        category: Annotated[str | None, Field(max_length=200, description="A category slug "
                                              "from list_categories, e.g. 'electronics' or "
                                              "'electronics/audio/headphones' (includes "
                                              "subcategories).")] = None,
        brand: Annotated[str | None, Field(max_length=100, description="Exact brand name, "
                                           "any case.")] = None,
        min_price_cents: Annotated[Cents, Field(description="Lowest price in cents "
                                                "(1999 = $19.99).")] = None,
        max_price_cents: Annotated[Cents, Field(description="Highest price in cents "
                                                "(5000 = $50.00).")] = None,
        min_rating: Annotated[float | None, Field(ge=0, le=5, description="Minimum average "
                                                  "rating, 0 to 5.")] = None,
        in_stock_only: Annotated[bool, Field(description="Only products with a variant in "
                                             "stock.")] = False,
        attributes: Annotated[dict[str, str | bool | int | float] | None, Field(
            max_length=10, description="Attribute values the product must have, e.g. "
            "{\"noise_cancelling\": true, \"theme\": \"dinosaurs\"} (attribute names are shown "
            "by get_product).")] = None,
        attributes_at_least: Annotated[dict[str, float] | None, Field(
            max_length=10, description="Numeric attribute minimums, e.g. "
            "{\"battery_hours\": 20}.")] = None,
        sort: Annotated[SortOrder, Field(description="'relevance' (default), 'price_asc', "
                                         "'price_desc', 'rating' or 'popularity'.")] = "relevance",
        page: Annotated[int, Field(ge=1, le=1000, description="1-based page number.")] = 1,
        page_size: Annotated[int, Field(ge=1, le=50, description="Results per page, "
                                        "1 to 50.")] = 10,
        session_id: SessionArg = None,
    ) -> SearchPage:
        """Search the catalog by text and filters; returns one page of matching products.

        Prices and stock are this session's. Prices are integer cents. Use get_product on a
        hit for its variants (sizes, colours) before adding to the cart. If match_mode is
        'any', no product matched every word and the hits match only some of them.
        """
        q = SearchQuery(text=query, category=category, brand=brand,
                        min_price_cents=min_price_cents, max_price_cents=max_price_cents,
                        min_rating=min_rating, in_stock_only=in_stock_only,
                        attributes=attributes or {},
                        attributes_at_least=attributes_at_least or {}, sort=sort, page=page,
                        page_size=page_size)
        return await server.shop_call(shop.search, session_id, q)

    @server.tool()
    async def get_product(product_id: ProductIdArg, session_id: SessionArg = None) -> ProductView:
        """Full details of one product: description, attributes, and every variant with its
        variant_id, options (size, colour, ...), price in cents and stock in this session.

        Use the variant_id (e.g. 'V-000042-3') with add_to_cart.
        """
        return await server.shop_call(shop.get_product, session_id, product_id)

    @server.tool()
    async def list_categories(
        parent: Annotated[str | None, Field(max_length=200, description="A category slug to "
                                            "list the subcategories of, e.g. 'electronics'; "
                                            "omit for the top-level departments.")] = None,
        depth: Annotated[int, Field(ge=1, le=4, description="How many levels below the "
                                    "parent to include, 1 to 4.")] = 2,
        session_id: SessionArg = None,
    ) -> CategoryTree:
        """The category tree with product counts. Pass a slug as the category filter of
        search_products to search within a category and its subcategories."""
        await server.require_session(session_id)
        return await server.run_db(server.category_tree, parent, depth)

    @server.tool()
    async def find_similar(
        product_id: ProductIdArg,
        cheaper: Annotated[bool, Field(description="Only products cheaper than this "
                                       "one.")] = False,
        max_price_cents: Annotated[Cents, Field(description="Only products at or below this "
                                                "price, in cents.")] = None,
        in_stock_only: Annotated[bool, Field(description="Only products in stock.")] = True,
        limit: Annotated[int, Field(ge=1, le=20, description="How many, 1 to 20.")] = 5,
        session_id: SessionArg = None,
    ) -> SimilarProducts:
        """Products similar to one product (same category, close attributes), most similar
        first. Use it for alternatives to an out-of-stock item or a cheaper option."""
        sid = server.session(session_id)
        bound = None if max_price_cents is None else max_price_cents + 1
        if cheaper:
            own = await server.run_db(shop.get_product, sid, product_id)
            bound = own.price_cents if bound is None else min(bound, own.price_cents)
        hits = await server.run_db(shop.similar, sid, product_id, cheaper_than_cents=bound,
                                   in_stock_only=in_stock_only, limit=limit)
        return SimilarProducts(product_id=product_id, hits=hits)

    @server.tool()
    async def compare_products(
        product_ids: Annotated[ProductIdList, Field(min_length=2, max_length=5, description=
                                                    "2 to 5 product ids to compare.")],
        session_id: SessionArg = None,
    ) -> Comparison:
        """Compare a few products side by side: price range (cents), rating, stock, and each
        attribute with a flag for the ones that differ."""
        views = await server.run_db(catalog_views.get_products, shop.engine,
                                    server.session(session_id), product_ids)
        return await server.run_db(catalog_views.compare, views)

    @server.tool()
    async def present_products(
        product_ids: ProductIdList,
        message: Annotated[str | None, Field(max_length=2000, description="A short note to "
                                             "the shopper about these products.")] = None,
        session_id: SessionArg = None,
    ) -> PresentationResult:
        """Show products to the shopper as your recommendation. Use this whenever you
        recommend products: the shopper sees exactly these products (with the optional
        message) and reacts to them. Every id must exist."""
        views = await server.run_db(catalog_views.get_products, shop.engine,
                                    server.session(session_id), product_ids)
        return PresentationResult(message=message, presented=[PresentedProduct(
            product_id=v.product_id, title=v.title, brand=v.brand, category=v.category,
            price_cents=v.price_cents, rating=v.rating, in_stock=v.in_stock) for v in views])
