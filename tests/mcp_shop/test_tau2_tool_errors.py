"""Each refusal of tau2's tools over shop sessions (mcp_shop.tau2.tools): its code, tau2's
message (the reference's, tests/mcp_shop/tau2_reference.py) and no change, even when the
transaction around the call is committed; bad calls and sessions get clear errors; the
calculator gives tau2's text; look-ups ignore case where tau2 does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from mcp_shop.db import read_tx, write_tx
from mcp_shop.errors import InvalidState, NotFound, ShopError
from mcp_shop.shop import Shop
from mcp_shop.tau2.loader import Tau2Retail
from mcp_shop.tau2.replay import replay_calls, session_hash
from mcp_shop.tau2.session_world import open_tau2_session
from mcp_shop.tau2.tools import call_tau2_tool
from mcp_shop.tau2.tools_common import Tau2ToolError
from tests.mcp_shop import tau2_shop
from tests.mcp_shop.tau2_reference import Calls, Reference, ToolFailed

shop, world = tau2_shop.shop, tau2_shop.world  # the fixtures

# --- each rule's refusal ---------------------------------------------------------------------

_ADDRESS = {"address1": "1 Elm Street", "address2": "", "city": "Dayton", "state": "OH",
            "country": "USA", "zip": "45402"}
_ITEMS = "modify_pending_order_items"
_EXCHANGE = "exchange_delivered_order_items"
_RETURN = "return_delivered_order_items"
_PAYMENT = "modify_pending_order_payment"

# (set-up calls, the refused call, its code); ids are the fixture's (tests/fixtures/tau2_retail)
REFUSALS: list[tuple[Calls, str, dict[str, Any], str]] = [
    ([], "cancel_pending_order", {"order_id": "#W8630847", "reason": "no longer needed"},
     "order_not_pending"),  # processed
    ([], "cancel_pending_order", {"order_id": "#W8302444", "reason": "no longer needed"},
     "order_not_pending"),  # pending (item modified)
    ([], "cancel_pending_order", {"order_id": "#W2875821", "reason": "changed my mind"},
     "invalid_reason"),
    ([], "cancel_pending_order", {"order_id": "#W0000000", "reason": "no longer needed"},
     "order_not_found"),
    ([], "cancel_pending_order", {"order_id": "W2875821", "reason": "no longer needed"},
     "order_not_found"),
    ([], "modify_pending_order_address", {"order_id": "#W8983946", **_ADDRESS},
     "order_not_pending"),  # delivered
    ([], "modify_user_address", {"user_id": "nobody_0000", **_ADDRESS}, "user_not_found"),
    ([], _ITEMS, {"order_id": "#W8983946", "item_ids": ["2062721518"],
                  "new_item_ids": ["2989587703"], "payment_method_id": "credit_card_5147979"},
     "order_not_pending"),
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285"],
                  "new_item_ids": ["4856278285"], "payment_method_id": "credit_card_9472485"},
     "same_item"),
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285"],
                  "new_item_ids": ["7846964095"], "payment_method_id": "credit_card_9472485"},
     "item_unavailable"),
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285"],
                  "new_item_ids": ["2845042497"], "payment_method_id": "credit_card_9472485"},
     "variant_not_found"),  # an item of another product
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285"], "new_item_ids": [],
                  "payment_method_id": "credit_card_9472485"}, "item_count_mismatch"),
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285", "4856278285"],
                  "new_item_ids": ["4125734035", "8795097239"],
                  "payment_method_id": "credit_card_9472485"}, "item_not_in_order"),
    ([], _ITEMS, {"order_id": "#W7911742", "item_ids": ["4856278285"],
                  "new_item_ids": ["4125734035"], "payment_method_id": "gift_card_9090155"},
     "payment_method_not_found"),  # another user's gift card
    # the gift card pays the whole order first (53.79 left), then cannot cover +54.02
    ([(_PAYMENT, {"order_id": "#W6357742", "payment_method_id": "gift_card_9090155"})],
     _ITEMS, {"order_id": "#W6357742", "item_ids": ["1648491240", "2845042497"],
              "new_item_ids": ["2989587703", "4831905675"],
              "payment_method_id": "gift_card_9090155"}, "insufficient_balance"),
    ([], _PAYMENT, {"order_id": "#W5902004", "payment_method_id": "credit_card_7852908"},
     "same_payment_method"),
    ([], _PAYMENT, {"order_id": "#W8302444", "payment_method_id": "gift_card_3563885"},
     "not_one_payment"),
    ([], _PAYMENT, {"order_id": "#W9742551", "payment_method_id": "gift_card_6864986"},
     "insufficient_balance"),  # 18.24 for 49.71
    ([], _PAYMENT, {"order_id": "#W9742551", "payment_method_id": "credit_card_0000000"},
     "payment_method_not_found"),
    ([], _PAYMENT, {"order_id": "#W8630847", "payment_method_id": "paypal_6788870"},
     "order_not_pending"),
    ([], _EXCHANGE, {"order_id": "#W5902004", "item_ids": ["4831905675"],
                     "new_item_ids": ["4354383298"], "payment_method_id": "credit_card_7852908"},
     "order_not_delivered"),  # pending
    ([], _EXCHANGE, {"order_id": "#W1555307", "item_ids": ["2989587703"],
                     "new_item_ids": ["2062721518"], "payment_method_id": "credit_card_9472485"},
     "order_not_delivered"),  # exchange requested
    ([], _EXCHANGE, {"order_id": "#W2703423", "item_ids": ["3974914029"],
                     "new_item_ids": ["9455478726"], "payment_method_id": "credit_card_7852908"},
     "item_unavailable"),
    ([], _EXCHANGE, {"order_id": "#W2703423", "item_ids": ["3974914029"],
                     "new_item_ids": ["2845042497"], "payment_method_id": "credit_card_7852908"},
     "variant_not_found"),
    ([], _EXCHANGE, {"order_id": "#W2974395", "item_ids": ["6538740095"],
                     "new_item_ids": ["6783749370"], "payment_method_id": "gift_card_6580413"},
     "insufficient_balance"),  # 3.61 for 24.12
    ([], _EXCHANGE, {"order_id": "#W2703423", "item_ids": ["2062721518"],
                     "new_item_ids": ["2989587703"], "payment_method_id": "credit_card_7852908"},
     "item_not_in_order"),
    ([], _RETURN, {"order_id": "#W2731101", "item_ids": ["4354383298"],
                   "payment_method_id": "paypal_3323319"}, "order_not_delivered"),
    ([], _RETURN, {"order_id": "#W2974395", "item_ids": ["6538740095"],
                   "payment_method_id": "credit_card_6745114"}, "not_original_payment_method"),
    ([], _RETURN, {"order_id": "#W5728007", "item_ids": ["2701721558"] * 3,
                   "payment_method_id": "credit_card_9472485"}, "item_not_in_order"),
    ([], _RETURN, {"order_id": "#W5728007", "item_ids": ["2701721558"],
                   "payment_method_id": "paypal_3323319"}, "payment_method_not_found"),
    ([], "get_user_details", {"user_id": "nobody_0000"}, "user_not_found"),
    ([], "get_order_details", {"order_id": "#W1234567"}, "order_not_found"),
    ([], "get_product_details", {"product_id": "2062721518"}, "product_not_found"),
    ([], "get_item_details", {"item_id": "2937465203"}, "item_not_found"),
    ([], "find_user_id_by_email", {"email": "nobody@example.com"}, "user_not_found"),
    ([], "find_user_id_by_name_zip", {"first_name": "Hana", "last_name": "Kowalczyk",
                                      "zip": "00000"}, "user_not_found"),
]


@pytest.mark.parametrize(("setup", "name", "args", "code"), REFUSALS,
                         ids=[f"{n}-{c}-{i}" for i, (_, n, _a, c) in enumerate(REFUSALS)])
def test_each_refusal_has_its_code_tau2s_message_and_changes_nothing(
        shop: tuple[Engine, str], world: Tau2Retail, setup: Calls, name: str,
        args: dict[str, Any], code: str) -> None:
    engine, key = shop
    sid = open_tau2_session(engine, key)
    assert replay_calls(engine, sid, setup) == []
    ref = Reference(world.db)
    for call in setup:
        ref.call(*call)
    with pytest.raises(ToolFailed) as expected:
        ref.call(name, args)
    before = session_hash(engine, sid)
    # committed: the tool itself must not have written before refusing
    with write_tx(engine) as conn, pytest.raises(Tau2ToolError) as refused:
        call_tau2_tool(conn, sid, name, args)
    assert refused.value.code == f"tau2_{code}"
    assert refused.value.message == str(expected.value)
    assert isinstance(refused.value, ShopError)
    assert session_hash(engine, sid) == before


BAD_CALLS: list[tuple[Any, Any, str, str]] = [
    ("refund_everything", {}, "tau2_unknown_tool", "not found; the tools are"),
    (None, {}, "tau2_unknown_tool", "not found"),
    ("get_order_details", {}, "tau2_invalid_arguments", "missing order_id"),
    ("get_order_details", {"order_id": "#W2875821", "user_id": "x"},
     "tau2_invalid_arguments", "unknown 'user_id'"),
    ("get_order_details", {"order_id": 2875821}, "tau2_invalid_arguments",
     "order_id must be a string"),
    ("get_order_details", ["#W2875821"], "tau2_invalid_arguments", "an object of arguments"),
    ("return_delivered_order_items", {"order_id": "#W5728007", "item_ids": "2701721558",
                                      "payment_method_id": "credit_card_9472485"},
     "tau2_invalid_arguments", "item_ids must be a list of item ids"),
    ("return_delivered_order_items", {"order_id": "#W5728007", "item_ids": [2701721558],
                                      "payment_method_id": "credit_card_9472485"},
     "tau2_invalid_arguments", "item_ids must be a list of item ids"),
    ("calculate", {"expression": "__import__('os')"}, "tau2_invalid_expression",
     "Invalid characters in expression"),
    ("calculate", {"expression": "1 / 0"}, "tau2_invalid_expression", "division by zero"),
    ("calculate", {"expression": "(1 + 2"}, "tau2_invalid_expression", "not a valid"),
    ("calculate", {"expression": "9 ** 9 ** 9"}, "tau2_invalid_expression", "too large"),
]


@pytest.mark.parametrize(("name", "args", "code", "text"), BAD_CALLS)
def test_bad_calls_get_clear_errors_and_change_nothing(shop: tuple[Engine, str], name: Any,
                                                       args: Any, code: str,
                                                       text: str) -> None:
    engine, key = shop
    sid = open_tau2_session(engine, key)
    before = session_hash(engine, sid)
    with write_tx(engine) as conn, pytest.raises(Tau2ToolError) as refused:
        call_tau2_tool(conn, sid, name, args)
    assert refused.value.code == code and text in refused.value.message
    assert session_hash(engine, sid) == before


@pytest.mark.parametrize(("expression", "result"), [
    ("(2 + 3) * 1.5", "7.5"), ("5", "5.0"), ("41.63 + 41.63", "83.26"), ("10 / 3", "3.33"),
    ("-2 * (3 - 4.5)", "3.0"), ("7 // 2", "3.0"), ("2 ** 10", "1024.0")])
def test_calculate_gives_tau2s_text(shop: tuple[Engine, str], expression: str,
                                    result: str) -> None:
    engine, key = shop
    sid = open_tau2_session(engine, key)
    with write_tx(engine) as conn:
        assert call_tau2_tool(conn, sid, "calculate", {"expression": expression}) == result
    assert str(round(float(eval(expression)), 2)) == result  # what tau2's evaluation gives


def test_look_ups_ignore_case_where_tau2_does(shop: tuple[Engine, str],
                                              world: Tau2Retail) -> None:
    engine, key = shop
    sid = open_tau2_session(engine, key)
    user = world.db.users["hana_kowalczyk_4946"]
    with read_tx(engine) as conn:
        assert call_tau2_tool(conn, sid, "find_user_id_by_email",
                              {"email": user.email.upper()}) == user.user_id
        assert call_tau2_tool(conn, sid, "find_user_id_by_name_zip", {
            "first_name": "HANA", "last_name": "kowalczyk",
            "zip": user.address.zip}) == user.user_id
        assert call_tau2_tool(conn, sid, "transfer_to_human_agents",
                              {"summary": "x"}) == "Transfer successful"


def test_a_session_that_is_not_a_tau2_one_is_refused(shop: tuple[Engine, str]) -> None:
    engine, key = shop
    with read_tx(engine) as conn:
        with pytest.raises(NotFound, match="unknown session_id"):
            call_tau2_tool(conn, "no-such-session", "get_order_details",
                           {"order_id": "#W2875821"})
        template = str(conn.execute(text("SELECT template_session_id FROM tau2_world")).scalar())
    native = Shop(engine).open_session(seed=1).session_id
    with read_tx(engine) as conn:
        for sid in (native, template):
            with pytest.raises(InvalidState, match="not a tau2-retail one"):
                call_tau2_tool(conn, sid, "get_order_details", {"order_id": "#W2875821"})
