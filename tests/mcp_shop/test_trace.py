"""Trace records on both backends: any string is storable (NUL, lone surrogates), any number
too (NaN, Infinity, huge integers), and every record is bounded in depth and size with the
cut marked, cheaply for huge inputs; normal records are kept exactly as given."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from mcp_shop import Shop
from mcp_shop.server import build_server
from mcp_shop.trace import (
    MAX_ARGUMENTS_CHARS,
    MAX_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_RECORD_CHARS,
    MAX_RESULT_CHARS,
    TRUNCATED,
    TraceRecord,
    bound_arguments,
)

BACKENDS = pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True, scope="session")


def _size(record: TraceRecord) -> int:
    return (len(record.tool) + len(json.dumps(record.arguments)) + len(record.error_code or "")
            + len(record.error_message or "") + len(json.dumps(record.result))
            + len(record.result_digest or ""))


@BACKENDS
async def test_nul_and_other_unstorable_strings_are_recorded(shop: Shop) -> None:
    sid = shop.open_session(seed=5, history_orders=0).session_id
    pid = shop.search(sid, {"text": ""}).hits[0].product_id
    async with Client(build_server(shop, log_level="WARNING")) as client:
        unknown = await client.call_tool("bad\x00name", {"session_id": sid})
        assert unknown.is_error and "Unknown tool" in unknown.content[0].text
        typo = await client.call_tool("view_cart", {"session_id": sid, "k\x00": "v\x00"})
        assert typo.is_error
        shown = await client.call_tool("present_products", {
            "session_id": sid, "product_ids": [pid], "message": "look\x00here"})
        assert not shown.is_error
    first, second, third = shop.trace(sid)
    assert (first.tool, first.ok, first.error_code) == ("bad\\u0000name", False, "unknown_tool")
    assert "\x00" not in (first.error_message or "") and "bad\\u0000name" in first.error_message
    assert second.arguments == {"k\\u0000": "v\\u0000"}
    assert second.error_code == "invalid_arguments"
    assert third.ok and third.arguments["message"] == "look\\u0000here"
    assert third.result["message"] == "look\\u0000here"
    assert third.result_digest is not None and third.result_digest.startswith("sha256:")


@BACKENDS
def test_numbers_json_cannot_hold_and_lone_surrogates(shop: Shop) -> None:
    """Through the Python API, which takes anything."""
    sid = shop.open_session(seed=6, history_orders=0).session_id
    shop.record_call(sid, tool="t\ud800", ok=False, error_code="c\x00", error_message="m\udfff",
                     arguments={"nan": float("nan"), "inf": float("inf"), "big": 10**5000,
                                "ok": 10**300, "s\ud83d": ["x\x00"]})
    shop.record_call(sid, tool="r", ok=True, arguments={},
                     result={"v": float("-inf"), "s": "a\x00\udc00"}, result_digest="sha256:0")
    shop.record_call(sid, tool="j", ok=True, arguments={}, result={"v": "x\x00"},
                     result_json='{"v": "x\\u0000"}', result_digest="sha256:1")
    bad, res, given = shop.trace(sid)
    assert (bad.tool, bad.error_code, bad.error_message) == ("t\\ud800", "c\\u0000", "m\\udfff")
    assert bad.arguments == {"nan": "NaN", "inf": "Infinity", "ok": 10**300,
                             "big": f"{TRUNCATED}: integer of 5001 digits]",
                             "s\\ud83d": ["x\\u0000"]}
    assert res.result == {"v": "-Infinity", "s": "a\\u0000\\udc00"}
    assert given.result == {"v": "x\\u0000"}


@BACKENDS
async def test_huge_arguments_are_bounded(shop: Shop) -> None:
    """The campaign's case: a 3.9 MB unknown argument to view_cart (stored whole before)."""
    sid = shop.open_session(seed=8, history_orders=0).session_id
    junk = [["y" * 390] * 100] * 100  # 3.9 MB of JSON
    assert len(json.dumps(junk)) > 3_900_000
    async with Client(build_server(shop, log_level="WARNING")) as client:
        result = await client.call_tool("view_cart", {"session_id": sid, "junk": junk})
        assert result.is_error and "unknown argument" in result.content[0].text
        deep = await client.call_tool("view_cart", {"session_id": sid,
                                                    "deep": json.loads("[" * 150 + "]" * 150)})
        assert deep.is_error
        name = await client.call_tool("x" * 1_000_000, {"session_id": sid})
        assert name.is_error
    big, deep_record, long_name = shop.trace(sid)
    text = json.dumps(big.arguments)
    assert len(text) <= MAX_ARGUMENTS_CHARS
    assert big.arguments["junk"][0][0] == "y" * 390, "what fits is kept as given"
    assert big.arguments["junk"][-1] == f"{TRUNCATED}: size limit]"
    level, depth = deep_record.arguments["deep"], 1
    while isinstance(level, list):
        level, depth = level[0], depth + 1
    assert level == f"{TRUNCATED}: nested deeper than {MAX_DEPTH} levels]"
    assert depth == MAX_DEPTH
    assert len(long_name.tool) < 400 and long_name.tool.startswith("x" * 200 + TRUNCATED)
    assert len(long_name.error_message or "") <= MAX_MESSAGE_CHARS
    assert all(_size(r) <= MAX_RECORD_CHARS for r in (big, deep_record, long_name))


class _Counting(list[Any]):
    """A list that counts the items read from it."""

    reads = 0

    def __iter__(self) -> Any:
        for item in super().__iter__():
            _Counting.reads += 1
            yield item


def test_bounding_reads_only_what_it_keeps() -> None:
    """A structure of 10**8 strings (about 10 GB as JSON) is bounded after a few hundred reads
    (no full walk, no deep copy)."""
    leaf = _Counting(["z" * 100] * 100)
    level = leaf
    for _ in range(3):
        level = _Counting([level] * 100)
    _Counting.reads = 0
    bounded = bound_arguments({"junk": level})
    assert len(json.dumps(bounded)) <= MAX_ARGUMENTS_CHARS
    assert _Counting.reads < 300
    wide = {str(i): i for i in range(1_000_000)}
    assert list(bound_arguments(wide).items())[-1] == (f"{TRUNCATED}]", "999900 more keys")


@BACKENDS
def test_large_results_are_kept_by_digest(shop: Shop) -> None:
    sid = shop.open_session(seed=9, history_orders=0).session_id
    big = {"hits": ["w" * 1000] * 70}
    text = json.dumps(big)
    assert len(text) > MAX_RESULT_CHARS
    shop.record_call(sid, tool="search_products", ok=True, arguments={}, result=big,
                     result_json=text, result_digest="sha256:abc")
    shop.record_call(sid, tool="search_products", ok=True, arguments={}, result=big,
                     result_digest="sha256:abd")
    for record in shop.trace(sid):
        assert record.result is None and record.result_digest in ("sha256:abc", "sha256:abd")


def test_normal_arguments_are_kept_as_given() -> None:
    normal = [
        {"query": "wireless headphones", "attributes": {"noise_cancelling": True},
         "attributes_at_least": {"battery_hours": 20.5}, "page": 2, "min_rating": 4.5},
        {"order_id": "O-1001", "reason": "defective", "refund_to": "original",
         "items": [{"variant_id": f"V-000042-{i}", "quantity": 2} for i in range(1, 21)]},
        {"facts": [{"fact": "order_status", "about": "O-1001", "value": "shipped"}] * 10},
        {"product_ids": ["P-000001"] * 10, "message": "é" * 999 + "🎧"},
        {},
    ]
    for args in normal:
        assert bound_arguments(args) == args
        assert TRUNCATED not in json.dumps(bound_arguments(args))
