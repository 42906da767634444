"""Extreme numbers given to the shop's Python API: the clock step and search filters answer
with InvalidInput saying what would be valid, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_shop import Shop
from mcp_shop.errors import InvalidInput, shown
from mcp_shop.search import SearchQuery


@pytest.mark.parametrize("kw", [
    {"days": 10**400}, {"days": float("inf")}, {"hours": float("-inf")}, {"hours": float("nan")},
    {"days": 1e300}, {"days": True}, {"hours": "2"},
], ids=lambda kw: f"{next(iter(kw))}={shown(next(iter(kw.values())), 12)}")
def test_clock_step_must_be_a_sensible_number(shop: Shop, kw: dict[str, Any]) -> None:
    sid = shop.open_session(seed=7, history_orders=0).session_id
    before = shop.snapshot(sid)
    with pytest.raises(InvalidInput, match=r"must be a number, with days and hours together "
                                           r"from 0 to 3650 days; got "):
        shop.advance_clock(sid, **kw)
    assert shop.snapshot(sid) == before
    shop.advance_clock(sid, days=1, hours=2.5)  # a sensible step still works
    assert shop.snapshot(sid) != before


@pytest.mark.parametrize("value", [10**400, -10**400, 10**5000], ids=shown)
def test_huge_attribute_number(shop: Shop, value: int) -> None:
    sid = shop.open_session(seed=7, history_orders=0).session_id
    with pytest.raises(InvalidInput, match=r"'battery_hours' takes a number of hours, e\.g\. "
                                           r"\{'battery_hours': 20\}; (a negative|an) integer "
                                           r"of .* digits is not a usable number: give a "
                                           r"finite number"):
        shop.search(sid, SearchQuery(attributes={"battery_hours": value}))


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10**400], ids=shown)
def test_non_finite_at_least_bound(shop: Shop, value: Any) -> None:
    """``SearchQuery`` refuses these itself; one built without validation is refused too."""
    sid = shop.open_session(seed=7, history_orders=0).session_id
    query = SearchQuery.model_construct(**{**SearchQuery().model_dump(),
                                           "attributes_at_least": {"battery_hours": value}})
    with pytest.raises(InvalidInput, match="attributes_at_least: 'battery_hours' takes a number"):
        shop.search(sid, query)


@pytest.mark.parametrize(("value", "expected"), [
    (10**400, "an integer of 401 digits"), (-10**5000, "a negative integer of over 4000 digits"),
    ("x" * 100, "'" + "x" * 60 + "...' (100 characters)"), (2.5, "2.5"), (True, "True"),
], ids=shown)
def test_shown(value: Any, expected: str) -> None:
    assert shown(value) == expected
