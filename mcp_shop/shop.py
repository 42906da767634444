"""``Shop``: the shop's Python API. One object per process wraps an engine, the catalog and its
search index; every method is one transaction on one session, addressed by its handle.

Public ids (``P-000042``, ``V-000042-3``, ``O-1001``) go in and come out; integer keys stay
inside. The MCP server is thin glue over this class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from mcp_shop import (
    cart,
    checkout,
    discounts,
    inventory,
    orders,
    products,
    returns,
    sessions,
    stated,
)
from mcp_shop.customers import get_customer
from mcp_shop.db import DEFAULT_DB_URL, make_engine, read_tx, sqlite_path, write_tx
from mcp_shop.errors import InvalidState
from mcp_shop.facts import StatedFacts
from mcp_shop.ids import parse_order_id, parse_product_id, parse_variant_id
from mcp_shop.importers.policy_config import load_policies
from mcp_shop.models import CatalogInfo
from mcp_shop.policies import PolicySection, render_policies
from mcp_shop.search import ProductHit, SearchPage, SearchQuery
from mcp_shop.state import session_snapshot
from mcp_shop.trace import TraceRecord, read_trace, record_call
from mcp_shop.views import (
    CartView,
    CustomerView,
    ExchangeView,
    LineEligibility,
    OrderSummary,
    OrderView,
    ProductView,
    ReturnView,
    SessionView,
)

__all__ = ["OPENED_MEMORY", "Shop", "default_index_dir"]

OPENED_MEMORY = 100_000  # most handles a Shop remembers having opened (then it starts over)


def default_index_dir(url: str) -> Path | None:
    """Where the search index of a database lives: beside a SQLite file, else a user cache."""
    path = sqlite_path(url)
    if path is not None:
        return path.with_name(path.name + ".search")
    if url.startswith("sqlite"):
        return None  # in-memory database: in-memory index
    return Path.home() / ".cache" / "mcp-shop" / "search"


class Shop:
    """The shop over one database and its catalog."""

    def __init__(self, engine: Engine, *, index_dir: Path | None = None,
                 index_progress: Callable[[int, int], None] | None = None) -> None:
        from mcp_shop.catalog import load_catalog_info
        from mcp_shop.search import SearchIndex

        info = load_catalog_info(engine)
        if info is None:
            raise InvalidState("the database has no catalog: build one with "
                                        "Shop.open(...) or `mcp-shop build`")
        self.engine = engine
        self.catalog: CatalogInfo = info
        self.index = SearchIndex.open_or_build(engine, index_dir, progress=index_progress)
        self.policies = load_policies(engine)
        self._opened: set[str] = set()  # see opened_here

    @classmethod
    def open(
        cls,
        url: str = DEFAULT_DB_URL,
        *,
        seed: int = 0,
        size: int = 10_000,
        index_dir: Path | None | str = "auto",
        progress: Callable[[int, int], None] | None = None,
        index_progress: Callable[[int, int], None] | None = None,
        schema: str | None = None,
    ) -> Shop:
        """Open the shop at ``url``, generating the (seed, size) catalog on first use.

        ``progress`` and ``index_progress`` are called as ``(done, total)`` while the catalog
        and its search index are built (only on first use).
        """
        from mcp_shop.catalog import ensure_catalog

        engine = make_engine(url, schema=schema)
        ensure_catalog(engine, seed=seed, size=size, progress=progress)
        where = default_index_dir(url) if index_dir == "auto" else index_dir
        return cls(engine, index_dir=Path(where) if where is not None else None,
                   index_progress=index_progress)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _write(self, session_id: str) -> Iterator[tuple[Connection, Any]]:
        with write_tx(self.engine) as conn:
            yield conn, sessions.lock_session(conn, session_id)

    @contextmanager
    def _read(self, session_id: str) -> Iterator[tuple[Connection, Any]]:
        with read_tx(self.engine) as conn:
            yield conn, sessions.read_session(conn, session_id)

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, *, seed: int = 0, tier: str | None = None,
                     history_orders: int | None = None,
                     clock: datetime | None = None) -> SessionView:
        """Open a new isolated session; its content is a function of ``seed``."""
        with write_tx(self.engine) as conn:
            view = sessions.open_session(conn, seed=seed, tier=tier,
                                         history_orders=history_orders, clock=clock)
        if len(self._opened) >= OPENED_MEMORY:
            self._opened.clear()
        self._opened.add(view.session_id)
        return view

    def opened_here(self, session_id: str) -> bool:
        """Whether ``open_session`` of this object made the handle ``session_id`` (among the
        last ``OPENED_MEMORY``): then it names a native session or none (its unit of work
        rolled back, or it was removed since), since a session's surface never changes and
        handles are never reused. Lets a server of the native tools in this process skip
        reading the surface of the sessions its trainer opens."""
        return session_id in self._opened

    def session(self, session_id: str) -> SessionView:
        """The session's handle, seed, clock and customer id."""
        with self._read(session_id) as (conn, s):
            return SessionView(session_id=s.id, seed=s.seed, clock=s.clock,
                               customer_id=get_customer(conn, s).customer_id)

    def advance_clock(self, session_id: str, *, days: float = 0, hours: float = 0) -> datetime:
        """Move the session's simulated clock forward (orders move along with it)."""
        with write_tx(self.engine) as conn:
            return sessions.advance_clock(conn, session_id, sessions.clock_step(days, hours))

    # -- catalog ----------------------------------------------------------------------------

    def search(self, session_id: str, query: SearchQuery | Mapping[str, Any]) -> SearchPage:
        """Search the catalog with this session's prices and stock (see ``SearchQuery``)."""
        from mcp_shop.search import search

        q = query if isinstance(query, SearchQuery) else SearchQuery.model_validate(query)
        with self._read(session_id) as (conn, _):
            return search(conn, self.index, q, session_id)

    def similar(self, session_id: str, product: str, *, cheaper_than_cents: int | None = None,
                in_stock_only: bool = True, limit: int = 10) -> list[ProductHit]:
        """Products like ``product`` (same category, close attributes), optionally cheaper."""
        from mcp_shop.search import similar

        pk = parse_product_id(product)
        with self._read(session_id) as (conn, _):
            products.get_product(conn, session_id, pk)  # NotFound for unknown ids
            return similar(conn, self.index, pk, session_id, cheaper_than_cents=cheaper_than_cents,
                           in_stock_only=in_stock_only, limit=limit)

    def get_product(self, session_id: str, product: str) -> ProductView:
        """A product with its variants' prices and stock in this session."""
        pk = parse_product_id(product)
        with self._read(session_id) as (conn, _):
            return products.get_product(conn, session_id, pk)

    # -- cart -------------------------------------------------------------------------------

    def view_cart(self, session_id: str) -> CartView:
        """The cart and its totals."""
        with self._read(session_id) as (conn, s):
            return cart.view_cart(conn, s)

    def add_to_cart(self, session_id: str, variant: str, quantity: int = 1) -> CartView:
        """Add units of a variant to the cart."""
        vpk = parse_variant_id(variant)
        with self._write(session_id) as (conn, s):
            cart.add_to_cart(conn, s.id, vpk, quantity)
            return cart.view_cart(conn, s)

    def update_cart_item(self, session_id: str, variant: str, quantity: int) -> CartView:
        """Set a cart line's quantity (0 removes it)."""
        vpk = parse_variant_id(variant)
        with self._write(session_id) as (conn, s):
            cart.update_cart_item(conn, s.id, vpk, quantity)
            return cart.view_cart(conn, s)

    def remove_from_cart(self, session_id: str, variant: str) -> CartView:
        """Remove a line from the cart."""
        vpk = parse_variant_id(variant)
        with self._write(session_id) as (conn, s):
            cart.remove_from_cart(conn, s.id, vpk)
            return cart.view_cart(conn, s)

    def apply_discount_code(self, session_id: str, code: str) -> CartView:
        """Apply a discount code to the cart (one per order)."""
        with self._write(session_id) as (conn, s):
            discounts.apply_discount_code(conn, s.id, code, cart.cart_lines(conn, s.id), s.clock)
            return cart.view_cart(conn, s)

    def remove_discount_code(self, session_id: str) -> CartView:
        """Remove the cart's discount code."""
        with self._write(session_id) as (conn, s):
            discounts.remove_discount_code(conn, s.id)
            return cart.view_cart(conn, s)

    # -- customer, checkout, orders ---------------------------------------------------------

    def get_customer(self, session_id: str) -> CustomerView:
        """The customer's profile, addresses and payment methods."""
        with self._read(session_id) as (conn, s):
            return get_customer(conn, s)

    def checkout(self, session_id: str, *, payment_method_id: str,
                 shipping_option: str = "standard", address_id: str | None = None,
                 second_payment_method_id: str | None = None) -> OrderView:
        """Place an order from the cart."""
        with self._write(session_id) as (conn, s):
            number = checkout.checkout(
                conn, s, payment_method_id=payment_method_id, shipping_option=shipping_option,
                address_id=address_id, second_payment_method_id=second_payment_method_id)
            return orders.get_order(conn, s.id, number)

    def list_orders(self, session_id: str) -> list[OrderSummary]:
        """The order history, newest first."""
        with self._read(session_id) as (conn, s):
            return orders.list_orders(conn, s.id)

    def get_order(self, session_id: str, order: str) -> OrderView:
        """One order in full."""
        number = parse_order_id(order)
        with self._read(session_id) as (conn, s):
            return orders.get_order(conn, s.id, number)

    def cancel_order(self, session_id: str, order: str, reason: str) -> OrderView:
        """Cancel a pending order."""
        number = parse_order_id(order)
        with self._write(session_id) as (conn, s):
            return orders.cancel_order(conn, s.id, number, reason)

    def check_return_eligibility(self, session_id: str, order: str) -> list[LineEligibility]:
        """Per line: can it be returned now, and on what terms."""
        number = parse_order_id(order)
        with self._read(session_id) as (conn, s):
            return returns.check_return_eligibility(conn, s, number)

    def request_return(self, session_id: str, order: str, items: Sequence[tuple[str, int]],
                       *, reason: str, refund_to: str = "original") -> ReturnView:
        """Return ``(variant_id, quantity)`` items of a delivered order for a refund."""
        number = parse_order_id(order)
        parsed = [(parse_variant_id(v), q) for v, q in items]
        with self._write(session_id) as (conn, s):
            rid = returns.request_return(conn, s, number, parsed, reason=reason,
                                         refund_to=refund_to)
            view = orders.get_order(conn, s.id, number)
        return next(r for r in view.returns if r.return_id == rid)

    def request_exchange(self, session_id: str, order: str, variant: str, new_variant: str,
                         *, quantity: int = 1, reason: str) -> ExchangeView:
        """Exchange units of a delivered line for another variant of the same product."""
        number = parse_order_id(order)
        old, new = parse_variant_id(variant), parse_variant_id(new_variant)
        with self._write(session_id) as (conn, s):
            xid = returns.request_exchange(conn, s, number, old, new, quantity=quantity,
                                           reason=reason)
            view = orders.get_order(conn, s.id, number)
        return next(x for x in view.exchanges if x.exchange_id == xid)

    def state_facts(self, session_id: str, facts: Sequence[Mapping[str, Any]]) -> StatedFacts:
        """Check the form of facts told to the shopper and give them in canonical form
        (``mcp_shop.stated``); changes nothing."""
        with self._read(session_id) as (conn, s):
            return stated.state_facts(conn, s.id, facts)

    def policies_text(self) -> list[PolicySection]:
        """The shop policies as titled sections."""
        return render_policies(self.policies)

    # -- world set-up (tasks, scenarios) and inspection (controller, verifiers) -------------

    def set_stock(self, session_id: str, variant: str, stock: int) -> None:
        """Set this session's stock of a variant."""
        with self._write(session_id) as (conn, s):
            inventory.set_stock(conn, s.id, parse_variant_id(variant), stock)

    def set_overrides(self, session_id: str, *, stock: Mapping[str, int] | None = None,
                      prices: Mapping[str, int] | None = None) -> None:
        """Set many variants' stock and prices in this session, in one transaction (all or
        nothing)."""
        parsed_stock = {parse_variant_id(v): n for v, n in (stock or {}).items()}
        parsed_prices = {parse_variant_id(v): c for v, c in (prices or {}).items()}
        with self._write(session_id) as (conn, s):
            inventory.set_many(conn, s.id, stock=parsed_stock, prices=parsed_prices)

    def set_price(self, session_id: str, variant: str, price_cents: int) -> None:
        """Set this session's price of a variant."""
        with self._write(session_id) as (conn, s):
            inventory.set_price(conn, s.id, parse_variant_id(variant), price_cents)

    def add_discount_code(self, session_id: str, code: str, **rules: Any) -> None:
        """Make a discount code known in this session (see ``sessions.add_discount_code``)."""
        with self._write(session_id) as (conn, s):
            sessions.add_discount_code(conn, s.id, code, **rules)

    def add_past_order(self, session_id: str, lines: Mapping[str, int], *, days_ago: float,
                       shipping_option: str = "standard",
                       payment_method_id: str | None = None) -> str:
        """Seed a past order of ``{variant_id: quantity}`` placed ``days_ago`` days ago."""
        with self._write(session_id) as (conn, s):
            parsed = {parse_variant_id(v): q for v, q in lines.items()}
            return orders.add_past_order(
                conn, s.id, parsed, placed_at=s.clock - timedelta(days=days_ago),
                shipping_option=shipping_option, payment_method_public_id=payment_method_id)

    def snapshot(self, session_id: str, *, include_trace: bool = False) -> dict[str, Any]:
        """Every per-session row of the session (for state diffs)."""
        with self._read(session_id) as (conn, s):
            return session_snapshot(conn, s.id, include_trace=include_trace)

    def record_call(self, session_id: str, **event: Any) -> int:
        """Append a tool call to the session's trace (used by the server)."""
        sessions.check_handle(session_id)
        with write_tx(self.engine) as conn:
            return record_call(conn, session_id, **event)

    def trace(self, session_id: str) -> list[TraceRecord]:
        """The session's recorded tool calls, in order."""
        with self._read(session_id) as (conn, s):
            return read_trace(conn, s.id)
