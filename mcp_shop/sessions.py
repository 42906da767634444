"""Sessions: isolated shop worlds addressed by unguessable handles, with a simulated clock.

Opening a session writes a handful of rows (customer, addresses, payment methods, discount codes,
a seeded order history) and copies nothing from the catalog, so it costs the same on a catalog of
ten thousand or a million products. Everything seeded is a pure function of the session seed.
"""

from __future__ import annotations

import random
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, select, update

from mcp_shop import orders
from mcp_shop.discounts import CODE_PATTERN
from mcp_shop.errors import InvalidInput, InvalidState, NotFound, shown
from mcp_shop.ids import FIRST_ORDER_NUMBER
from mcp_shop.models import (
    Address,
    Cart,
    Customer,
    DiscountCode,
    ExchangeRequest,
    Order,
    PaymentMethod,
    Shipment,
    ShopSession,
)
from mcp_shop.sql import Sql, as_datetime, fetch_all, fetch_one, insert, run
from mcp_shop.views import SessionView

__all__ = [
    "SIM_EPOCH",
    "SessionRow",
    "add_discount_code",
    "advance_clock",
    "check_handle",
    "clock_step",
    "lock_session",
    "new_handle",
    "open_session",
    "read_session",
]

SIM_EPOCH = datetime(2026, 3, 2, 9, 0)
_HANDLE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
S = ShopSession.__table__  # type: ignore[attr-defined]

_FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery",
          "Quinn", "Priya", "Mateo", "Yuki", "Amara", "Lena", "Omar", "Sofia", "Noah"]
_LAST = ["Rivera", "Chen", "Okafor", "Schmidt", "Novak", "Haddad", "Larsen", "Patel", "Moreau",
         "Kowalski", "Tanaka", "Silva", "Brennan", "Nguyen", "Adeyemi", "Fischer"]
_CITIES = [("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Columbus", "OH", "432"),
           ("Denver", "CO", "802"), ("Raleigh", "NC", "276"), ("Madison", "WI", "537"),
           ("Tucson", "AZ", "857"), ("Boise", "ID", "837")]
_STREETS = ["Maple Ave", "Oak St", "Cedar Ln", "Harbor Rd", "Elm St", "Birch Way", "Park Blvd"]


def new_handle() -> str:
    """A fresh session handle: 192 random bits, URL-safe, starting with a letter or a digit
    (one in 32 would start with '-' or '_' otherwise, and a handle starting with '-' reads as
    an option on a command line: ``mcp-shop serve --session -x...`` failed)."""
    while True:
        handle = secrets.token_urlsafe(24)
        if handle[0].isalnum():
            return handle


@dataclass(frozen=True)
class SessionRow:
    """The ``shop_session`` row of a session, as the shop rules use it."""

    id: str
    seed: int
    clock: datetime
    customer_id: int
    next_order_number: int
    next_return_number: int
    next_exchange_number: int
    trace_seq: int


_SESSION_COLUMNS = ("id, seed, clock, customer_id, next_order_number, next_return_number, "
                    "next_exchange_number, trace_seq")
_READ = Sql(f"SELECT {_SESSION_COLUMNS} FROM shop_session WHERE id = ?")
_LOCK = Sql(f"SELECT {_SESSION_COLUMNS} FROM shop_session WHERE id = ?",
            pg=f"SELECT {_SESSION_COLUMNS} FROM shop_session WHERE id = ? FOR UPDATE")


def check_handle(session_id: object) -> str:
    """``session_id`` if it is shaped like a handle; InvalidInput otherwise."""
    if not isinstance(session_id, str) or not _HANDLE.match(session_id):
        raise InvalidInput(
            "malformed session_id: use the handle returned by open_session "
            "(22 to 64 URL-safe characters)"
        )
    return session_id


def read_session(conn: Connection, session_id: str, *, for_update: bool = False) -> SessionRow:
    """The session row; NotFound for an unknown handle, InvalidInput for a malformed one."""
    row = fetch_one(conn, _LOCK if for_update else _READ, (check_handle(session_id),))
    if row is None:
        raise NotFound("unknown session_id: open a session with open_session first")
    return SessionRow(row[0], row[1], as_datetime(row[2]), *row[3:])  # type: ignore[arg-type]


def lock_session(conn: Connection, session_id: str) -> SessionRow:
    """Read the session row and hold its lock until the transaction ends (serialises writers)."""
    return read_session(conn, session_id, for_update=True)


def _code_row(session_id: str, code: str, *, kind: str, value: int = 0,
              min_spend_cents: int = 0, category_slug: str | None = None,
              expires_at: datetime | None = None, single_use: bool = True,
              description: str = "") -> dict[str, Any]:
    if kind not in ("percent", "fixed", "free_shipping"):
        raise InvalidInput(f"code kind must be percent, fixed or free_shipping, got {kind!r}")
    if kind == "percent" and not 1 <= value <= 100:
        raise InvalidInput(f"a percent code needs a value from 1 to 100, got {value}")
    if kind == "fixed" and value < 1:
        raise InvalidInput(f"a fixed code needs a value of at least 1 cent, got {value}")
    if not CODE_PATTERN.match(code.strip().upper()):
        raise InvalidInput(f"a discount code is 1 to 32 letters, digits, '-' or '_', got {code!r}")
    if min_spend_cents < 0:
        raise InvalidInput(f"min_spend_cents must be >= 0, got {min_spend_cents}")
    return dict(session_id=session_id, code=code.strip().upper(), kind=kind, value=value,
                min_spend_cents=min_spend_cents, category_slug=category_slug,
                expires_at=expires_at, single_use=single_use, used=False,
                description=description)


_CODE_EXISTS = Sql("SELECT id FROM discount_code WHERE session_id = ? AND code = ?")


def add_discount_code(conn: Connection, session_id: str, code: str, **rules: Any) -> None:
    """Make a discount code known in one session (task set-up uses this too).

    Rules: ``kind`` ('percent', 'fixed' or 'free_shipping'), ``value`` (percent or cents),
    ``min_spend_cents``, ``category_slug`` (slug prefix the code is limited to), ``expires_at``
    (simulated time), ``single_use``, ``description``.
    """
    row = _code_row(session_id, code, **rules)
    if fetch_one(conn, _CODE_EXISTS, (session_id, row["code"])) is not None:
        raise InvalidInput(f"code {row['code']} already exists in this session")
    insert(conn, DiscountCode.__table__, row)  # type: ignore[attr-defined]


# Every session's codes: rows checked once (by the rules of ``_code_row``), with the session and
# each code's expiry (before the session's start, or none) filled in per session.
_SEED_CODES = tuple((_code_row("", code, **rules), expired) for code, expired, rules in (
    ("WELCOME10", None, dict(kind="percent", value=10, min_spend_cents=5000,
                              description="10% off orders of $50 or more")),
    ("SAVE20", None, dict(kind="fixed", value=2000, min_spend_cents=10000,
                           description="$20 off orders of $100 or more")),
    ("FREESHIP", None, dict(kind="free_shipping", description="free shipping on any order")),
    ("SHOES15", None, dict(kind="percent", value=15, category_slug="shoes",
                            description="15% off shoes")),
    ("SPRING5", timedelta(days=3), dict(kind="fixed", value=500,
                                        description="$5 off (spring promotion)")),
))


def _seed_codes(conn: Connection, sid: str, now: datetime) -> None:
    insert(conn, DiscountCode.__table__, [  # type: ignore[attr-defined]
        {**row, "session_id": sid, "expires_at": None if expired is None else now - expired}
        for row, expired in _SEED_CODES
    ])


def _seed_customer(conn: Connection, sid: str, rng: random.Random, now: datetime,
                   tier: str | None) -> tuple[int, str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    public_id = f"C-{1000 + rng.randrange(9000)}"
    drawn_tier = rng.choices(["standard", "silver", "gold"], [6, 3, 1])[0]  # drawn even if forced
    cust = insert(conn, Customer.__table__, dict(  # type: ignore[attr-defined]
        session_id=sid, public_id=public_id, name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}@example.com",
        tier=tier or drawn_tier,
        member_since=now - timedelta(days=rng.randrange(60, 2000)),
    ), returning_id=True)
    city, region, zip3 = rng.choice(_CITIES)
    addresses = [dict(label="Home", line1=f"{rng.randrange(10, 999)} {rng.choice(_STREETS)}",
                      city=city, region=region, postcode=f"{zip3}{rng.randrange(10, 99)}")]
    if rng.random() < 0.5:
        city2, region2, zip2 = rng.choice(_CITIES)
        addresses.append(dict(label="Work", line1=f"{rng.randrange(100, 9999)} Commerce Pkwy",
                              city=city2, region=region2,
                              postcode=f"{zip2}{rng.randrange(10, 99)}"))
    insert(conn, Address.__table__, [  # type: ignore[attr-defined]
        dict(session_id=sid, public_id=f"A-{i + 1}", recipient=f"{first} {last}",
             country="US", is_default=i == 0, **a)
        for i, a in enumerate(addresses)
    ])
    brand = rng.choice(["Visa", "Mastercard", "Amex"])
    methods: list[dict[str, Any]] = [
        dict(kind="card", label=f"{brand} ending {rng.randrange(1000, 9999)}",
             balance_cents=None, is_default=True)]
    if rng.random() < 0.6:
        methods.append(dict(kind="paypal", label=f"PayPal ({first.lower()}@example.com)",
                            balance_cents=None, is_default=False))
    methods.append(dict(kind="gift_card", label=f"Gift card ending {rng.randrange(1000, 9999)}",
                        balance_cents=rng.choice([1500, 2500, 5000, 10000]), is_default=False))
    insert(conn, PaymentMethod.__table__, [  # type: ignore[attr-defined]
        dict(session_id=sid, public_id=f"PM-{i + 1}", **m) for i, m in enumerate(methods)
    ])
    return int(cust), public_id


def _seed_history(conn: Connection, sid: str, rng: random.Random, now: datetime,
                  product_count: int, n_orders: int) -> None:
    if n_orders <= 0 or product_count <= 0:
        return
    picks = [[rng.randrange(1, product_count + 1) for _ in range(rng.choice([1, 1, 2, 3]))]
             for _ in range(n_orders)]
    wanted = sorted({p for order in picks for p in order})
    by_product: dict[int, list[int]] = {}
    sql = Sql("SELECT id, product_id FROM variant WHERE product_id IN "
              f"({', '.join('?' * len(wanted))}) ORDER BY id")
    for vid, pid in fetch_all(conn, sql, wanted):
        by_product.setdefault(pid, []).append(vid)
    placed = sorted(now - timedelta(days=rng.randrange(2, 90), hours=rng.randrange(0, 12))
                    for _ in range(n_orders))
    past = []
    for products, placed_at in zip(picks, placed, strict=True):
        lines = {rng.choice(by_product[p]): rng.choice([1, 1, 1, 2]) for p in products
                 if p in by_product}
        if lines:
            past.append((lines, placed_at))
    orders.add_past_orders(conn, sid, past)


_CATALOG = Sql("SELECT fingerprint, product_count FROM catalog_info")
_SET_CUSTOMER = Sql("UPDATE shop_session SET customer_id = ? WHERE id = ?")


def open_session(
    conn: Connection,
    *,
    seed: int = 0,
    tier: str | None = None,
    history_orders: int | None = None,
    clock: datetime | None = None,
) -> SessionView:
    """Open a new isolated session seeded from ``seed``.

    Args:
        conn: a connection inside a write transaction.
        seed: everything seeded (customer, codes, order history) is a function of this.
        tier: force the customer's tier ('standard', 'silver', 'gold').
        history_orders: number of past orders to seed (default: 2 to 4, from the seed).
        clock: the simulated start time (default: 2026-03-02 09:00).
    """
    if tier is not None and tier not in ("standard", "silver", "gold"):
        raise InvalidInput(f"tier must be standard, silver or gold, got {tier!r}")
    if history_orders is not None and not 0 <= history_orders <= 50:
        raise InvalidInput(f"history_orders must be between 0 and 50, got {history_orders}")
    info = fetch_one(conn, _CATALOG)
    if info is None:
        raise InvalidState("the database has no catalog yet: build one first (mcp-shop build)")
    fingerprint, product_count = info
    rng = random.Random(f"session:{seed}")
    now = clock or SIM_EPOCH
    sid = new_handle()
    insert(conn, S, dict(id=sid, seed=seed, catalog_fingerprint=fingerprint, clock=now,
                         started_at=now, customer_id=None, next_order_number=FIRST_ORDER_NUMBER,
                         next_return_number=1, next_exchange_number=1, trace_seq=0))
    insert(conn, Cart.__table__, dict(session_id=sid, discount_code_id=None))  # type: ignore[attr-defined]
    cust, public = _seed_customer(conn, sid, rng, now, tier)
    run(conn, _SET_CUSTOMER, (cust, sid))
    _seed_codes(conn, sid, now)
    drawn = rng.randrange(2, 5)  # drawn even if forced, so overrides change nothing else
    n = drawn if history_orders is None else history_orders
    _seed_history(conn, sid, rng, now, product_count, n)
    return SessionView(session_id=sid, seed=seed, clock=now, customer_id=public)


MAX_ADVANCE_DAYS = 3650  # the longest step of the clock


def clock_step(days: float = 0, hours: float = 0) -> timedelta:
    """The duration of ``days`` plus ``hours``, checked: numbers (not bools), finite, and in
    all from 0 to ``MAX_ADVANCE_DAYS`` days.

    Raises:
        InvalidInput: anything else (e.g. ``days=10**400``, ``hours=float('nan')``).
    """
    for name, value in (("days", days), ("hours", hours)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                -1e6 < value < 1e6):  # also False for NaN
            raise InvalidInput(f"{name} must be a number, with days and hours together from 0 "
                               f"to {MAX_ADVANCE_DAYS} days; got {shown(value)}")
    return timedelta(days=days, hours=hours)


def advance_clock(conn: Connection, session_id: str, delta: timedelta) -> datetime:
    """Move the session's clock forward and every order, shipment and exchange with it."""
    if delta < timedelta(0):
        raise InvalidInput("the clock only moves forward: give a positive duration")
    if delta > timedelta(days=MAX_ADVANCE_DAYS):
        raise InvalidInput(f"advance the clock by at most {MAX_ADVANCE_DAYS} days at a time")
    row = lock_session(conn, session_id)
    now = row.clock + delta
    conn.execute(update(S).where(S.c.id == session_id).values(clock=now))
    refresh_statuses(conn, session_id, now)
    return now


def refresh_statuses(conn: Connection, session_id: str, now: datetime) -> None:
    """Set order, shipment and exchange statuses to what the clock ``now`` implies (orders
    that do not follow the clock, and their shipments, keep theirs)."""
    ORD = Order.__table__  # type: ignore[attr-defined]  # noqa: N806
    conn.execute(
        update(ORD)
        .where(ORD.c.session_id == session_id, ORD.c.status != "cancelled",
               ORD.c.follows_clock.is_(True))
        .values(status=case(
            (ORD.c.delivered_at <= now, "delivered"),
            (ORD.c.shipped_at <= now, "shipped"),
            (ORD.c.processing_at <= now, "processing"),
            else_="pending",
        ))
    )
    SH = Shipment.__table__  # type: ignore[attr-defined]  # noqa: N806
    conn.execute(
        update(SH)
        .where(SH.c.session_id == session_id, SH.c.status != "cancelled",
               SH.c.order_id.not_in(select(ORD.c.id).where(
                   ORD.c.session_id == session_id, ORD.c.follows_clock.is_(False))))
        .values(status=case(
            (SH.c.delivered_at <= now, "delivered"),
            (SH.c.shipped_at <= now, "in_transit"),
            else_="label_created",
        ))
    )
    X = ExchangeRequest.__table__  # type: ignore[attr-defined]  # noqa: N806
    delivered = (
        select(SH.c.exchange_id)
        .where(SH.c.session_id == session_id, SH.c.exchange_id.is_not(None),
               SH.c.delivered_at <= now)
    )
    conn.execute(
        update(X)
        .where(X.c.session_id == session_id, X.c.status != "completed",
               X.c.id.in_(delivered))
        .values(status="completed")
    )
