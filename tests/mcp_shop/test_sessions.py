"""Sessions: unguessable handles, seeded worlds, copy-on-write isolation, persistence."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from mcp_shop import InvalidInput, NotFound, Shop
from mcp_shop.ids import product_of
from mcp_shop.models import PriceOverride, StockOverride
from tests.mcp_shop.helpers import find_variants


def _world(shop, sid: str) -> list:
    """Everything a shopper can see of a session's seeded world, by public ids."""
    orders = [shop.get_order(sid, o.order_id) for o in shop.list_orders(sid)]
    return [shop.get_customer(sid), shop.view_cart(sid), shop.session(sid).clock, orders]


def test_handles_carry_at_least_128_random_bits(shop):
    handles = {shop.open_session(seed=0).session_id for _ in range(20)}
    assert len(handles) == 20
    for h in handles:
        assert len(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))) * 8 >= 128


def test_handles_never_start_with_a_dash_or_an_underscore():
    """A handle starting with '-' reads as an option on a command line (``mcp-shop serve
    --session -x...``); one in 32 did before. 4,000 handles: about 125 would have."""
    from mcp_shop.sessions import new_handle

    handles = [new_handle() for _ in range(4000)]
    assert all(h[0].isalnum() for h in handles)
    assert len(set(handles)) == 4000 and {len(h) for h in handles} == {32}


def test_a_handle_starting_with_a_dash_is_given_with_an_equals_sign(tmp_path, capsys):
    """Handles made by older versions may start with '-': ``--session=HANDLE`` takes them."""
    from mcp_shop.cli import main

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    Shop.open(url, seed=3, size=300, index_dir=None).engine.dispose()
    handle = "-" + "a" * 31
    assert main(["prune", "--db", url, f"--session={handle}"]) == 2  # read, and unknown
    assert handle in capsys.readouterr().err
    with pytest.raises(SystemExit):  # without '=' it reads as an option
        main(["prune", "--db", url, "--session", "-" + "a" * 31])


def test_same_seed_same_world(shop):
    a = shop.open_session(seed=42).session_id
    b = shop.open_session(seed=42).session_id
    c = shop.open_session(seed=43).session_id
    assert _world(shop, a) == _world(shop, b)
    assert _world(shop, a) != _world(shop, c)


@pytest.mark.parametrize("bad", ["", "abc", "x" * 200, "../../etc/passwd", "' OR 1=1 --", 42])
def test_malformed_handles(shop, bad):
    with pytest.raises(InvalidInput, match="session_id"):
        shop.view_cart(bad)


def test_unknown_handle(shop):
    with pytest.raises(NotFound, match="open_session"):
        shop.view_cart("A" * 32)


def test_opening_a_session_copies_nothing_from_the_catalog(shop):
    sid = shop.open_session(seed=1).session_id
    with shop.engine.connect() as conn:
        for model in (StockOverride, PriceOverride):
            t = model.__table__
            n = conn.execute(select(func.count()).select_from(t)
                             .where(t.c.session_id == sid)).scalar_one()
            assert n == 0


def test_sessions_do_not_see_each_other(shop):
    a = shop.open_session(seed=4, history_orders=0).session_id
    b = shop.open_session(seed=4, history_orders=0).session_id
    (v,) = find_variants(shop, a, min_stock=3)
    before_b = shop.snapshot(b)
    stock_b = shop.get_product(b, product_of(v)).variants
    shop.add_to_cart(a, v, 2)
    shop.set_price(a, v, 123)
    shop.checkout(a, payment_method_id="PM-1")
    assert shop.snapshot(b) == before_b
    assert shop.view_cart(b).lines == []
    assert shop.list_orders(b) == []
    assert shop.get_product(b, product_of(v)).variants == stock_b


def test_session_survives_a_restart(shop, backend, tmp_path):
    sid = shop.open_session(seed=8).session_id
    (v,) = find_variants(shop, sid, min_stock=2)
    shop.add_to_cart(sid, v, 2)
    shop.advance_clock(sid, days=1)
    clock = shop.session(sid).clock
    if backend == "sqlite":
        url = str(shop.engine.url)
        fresh = Shop.open(url, seed=shop.catalog.seed, size=shop.catalog.size, index_dir=None)
    else:
        with shop.engine.connect() as conn:
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
        engine_url = shop.engine.url.render_as_string(hide_password=False)
        fresh = Shop.open(engine_url, seed=shop.catalog.seed, size=shop.catalog.size,
                          index_dir=None, schema=schema)
    try:
        assert fresh.session(sid).clock == clock
        assert [(ln.variant_id, ln.quantity) for ln in fresh.view_cart(sid).lines] == [(v, 2)]
        fresh.checkout(sid, payment_method_id="PM-1")
        assert shop.view_cart(sid).lines == []
    finally:
        fresh.engine.dispose()


def test_forcing_the_tier_changes_nothing_else(shop):
    a = shop.open_session(seed=42).session_id
    b = shop.open_session(seed=42, tier="gold").session_id
    ca, cb = shop.get_customer(a), shop.get_customer(b)
    assert cb.tier == "gold"
    assert ca.model_copy(update={"tier": "gold"}) == cb
    assert [o.placed_at for o in shop.list_orders(a)] == [o.placed_at for o in shop.list_orders(b)]


def test_seeded_history_charges_shipping_by_tier(shop):
    gold = shop.open_session(seed=3, tier="gold", history_orders=5).session_id
    assert all(shop.get_order(gold, o.order_id).shipping_cents == 0
               for o in shop.list_orders(gold))


def test_task_codes_are_validated(shop):
    sid = shop.open_session(seed=1).session_id
    with pytest.raises(InvalidInput, match="letters, digits"):
        shop.add_discount_code(sid, "summer sale", kind="percent", value=10)
    with pytest.raises(InvalidInput, match="already exists"):
        shop.add_discount_code(sid, "welcome10", kind="percent", value=10)
    with pytest.raises(InvalidInput, match="1 to 100"):
        shop.add_discount_code(sid, "BIG", kind="percent", value=150)


def test_in_memory_sqlite_is_refused_with_a_hint():
    from mcp_shop import make_engine

    with pytest.raises(InvalidInput, match="sqlite:///shop.db"):
        make_engine("sqlite://")
