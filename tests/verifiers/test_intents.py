"""intent_status for every intent kind: done, not done (with the reason) and progress."""

from __future__ import annotations

from tests.verifiers.builders import (
    call,
    cart_line,
    catalog,
    order,
    presented,
    product,
    say,
    state,
    told,
    user,
)
from verifiers.evidence import assistant_texts, presented_products
from verifiers.intents import intent_status
from verifiers.types import (
    ExchangeState,
    FactGoal,
    Intent,
    ItemGoal,
    ProductMatch,
    ReturnState,
)

HP = product(1, brand="Sonix", variants=[({"color": "black"}, 9000, 5),
                                         ({"color": "blue"}, 9500, 3)])
PRICEY = product(2, brand="Sonix", variants=[({"color": "black"}, 20000, 5)])
SHOES = product(3, brand="Stride", slug="shoes/running", attributes={},
                variants=[({"size": "9"}, 7000, 2), ({"size": "10"}, 7000, 4),
                          ({"size": "11"}, 7200, 0)])
OTHER = product(4, brand="Acme", slug="home/kitchen", attributes={},
                variants=[({"color": "white"}, 2500, 9)])
PRODUCTS = catalog(HP, PRICEY, SHOES, OTHER)
EMPTY = state()
BUDGET = ProductMatch(category="electronics/audio", max_price_cents=10000)


def status(intent: Intent, before=EMPTY, after=EMPTY, trace=(), messages=(), since_turn=0):
    return intent_status(intent, before, after, list(trace), list(messages), PRODUCTS,
                         since_turn=since_turn)


# -- discovery and price comparison ----------------------------------------------------------


def test_discovery_done_when_a_presented_product_matches() -> None:
    intent = Intent(kind="discovery", request="headphones under $100", accept=BUDGET)
    r = status(intent, trace=[presented(["P-000002", "P-000001"])])
    assert r.done and r.progress == 1.0 and r.effects == ["P-000001"]


def test_discovery_not_done_reports_first_presented_failure() -> None:
    intent = Intent(kind="discovery", request="headphones under $100", accept=BUDGET)
    r = status(intent, trace=[presented(["P-000002", "P-000003"])])
    assert not r.done
    assert r.reason == "presented P-000002: price $200.00 is over the $100.00 budget"
    assert 0.5 < r.progress < 1.0
    none = status(intent)
    assert not none.done and none.reason == "no products presented" and none.progress == 0.0


def test_discovery_ignores_too_many_failed_and_early_presentations() -> None:
    intent = Intent(kind="discovery", request="x", accept=BUDGET)
    six = presented(["P-000001", "P-000002", "P-000003", "P-000004", "P-000005", "P-000006"])
    r = status(intent, trace=[six])
    assert not r.done and "too many" in r.reason
    failed = presented(["P-000001"]).model_copy(update={"ok": False})
    assert not status(intent, trace=[failed]).done
    early = presented(["P-000001"], turn=2)
    assert not status(intent, trace=[early], since_turn=3).done
    assert status(intent, trace=[early], since_turn=2).done


def test_presented_products_reads_json_text_results() -> None:
    entry = call("present_products", result='{"presented": [{"product_id": "P-000001", '
                 '"price_cents": 9000}]}')
    assert presented_products([entry]) == ([("P-000001", 9000)], 0)


def test_price_compare_excludes_the_reference() -> None:
    intent = Intent(kind="price_compare", request="like P-000002 but cheaper",
                    accept=ProductMatch(category="electronics", max_price_cents=19999,
                                        exclude_product_ids=["P-000002"]))
    assert not status(intent, trace=[presented(["P-000002"])]).done
    assert status(intent, trace=[presented(["P-000002", "P-000001"])]).done


# -- cart-building ---------------------------------------------------------------------------


def test_cart_exact_items_and_quantities() -> None:
    intent = Intent(kind="cart", request="x", items=[
        ItemGoal(match=ProductMatch(product_ids=["P-000003"], options={"size": "10"}),
                 quantity=2, label="running shoes"),
        ItemGoal(match=ProductMatch(brand="Acme"), quantity=1, label="mug")])
    after = state(cart=[cart_line("V-000003-2", 2), cart_line("V-000004-1", 1)])
    assert status(intent, after=after).done
    wrong_qty = state(cart=[cart_line("V-000003-2", 1), cart_line("V-000004-1", 1)])
    r = status(intent, after=wrong_qty)
    assert not r.done and r.reason == "running shoes: quantity of V-000003-2 is 1, not 2"
    assert r.progress > status(intent).progress
    wrong_size = state(cart=[cart_line("V-000003-1", 2), cart_line("V-000004-1", 1)])
    r = status(intent, after=wrong_size)
    assert not r.done and r.reason == "running shoes: V-000003-1 size is 9, not 10"


def test_cart_exact_forbids_other_lines_but_plain_cart_allows_them() -> None:
    items = [ItemGoal(match=ProductMatch(brand="Acme"), quantity=1)]
    after = state(cart=[cart_line("V-000004-1", 1), cart_line("V-000001-1", 1)])
    assert status(Intent(kind="cart", request="x", items=items), after=after).done
    r = status(Intent(kind="cart", request="x", items=items, exact_cart=True), after=after)
    assert not r.done and r.reason == "other lines in the cart: V-000001-1"


def test_cart_items_need_distinct_lines() -> None:
    same = ItemGoal(match=ProductMatch(category="electronics"), quantity=1)
    intent = Intent(kind="cart", request="x", items=[same, same])
    one = state(cart=[cart_line("V-000001-1", 1)])
    assert not status(intent, after=one).done
    two = state(cart=[cart_line("V-000001-1", 1), cart_line("V-000002-1", 1)])
    assert status(intent, after=two).done


def test_bundle_budget_and_no_other_new_lines() -> None:
    items = [ItemGoal(match=ProductMatch(category="electronics"), quantity=1),
             ItemGoal(match=ProductMatch(category="home"), quantity=2)]
    ok = state(cart=[cart_line("V-000001-1"), cart_line("V-000004-1", 2)])
    assert status(Intent(kind="bundle", request="x", items=items, budget_cents=14000),
                  after=ok).done
    r = status(Intent(kind="bundle", request="x", items=items, budget_cents=13999), after=ok)
    assert not r.done and r.reason == "cart subtotal $140.00 is over the $139.99 budget"
    extra = state(cart=ok.cart + [cart_line("V-000003-2")])
    r = status(Intent(kind="bundle", request="x", items=items), after=extra)
    assert not r.done and r.reason == "other new lines in the cart: V-000003-2"
    # a line that was already there is not new
    assert status(Intent(kind="bundle", request="x", items=items),
                  before=state(cart=[cart_line("V-000003-2")]), after=extra).done


def test_substitution() -> None:
    intent = Intent(kind="substitution", request="x",
                    accept=ProductMatch(category="electronics", max_price_cents=10000,
                                        exclude_product_ids=["P-000002"]),
                    items=[ItemGoal(match=ProductMatch(), quantity=2)])
    before = state(cart=[cart_line("V-000002-1", 2)])
    swapped = state(cart=[cart_line("V-000001-2", 2)])
    r = status(intent, before=before, after=swapped)
    assert r.done and r.effects == ["V-000001-2"]
    kept = state(cart=[cart_line("V-000002-1", 2), cart_line("V-000001-2", 2)])
    r = status(intent, before=before, after=kept)
    assert not r.done and r.reason == "the cart still holds excluded V-000002-1"
    one = state(cart=[cart_line("V-000001-2", 1)])
    r = status(intent, before=before, after=one)
    assert not r.done and r.reason == "quantity of V-000001-2 is 1, not 2"
    r = status(intent, before=before, after=before)
    assert not r.done and r.reason.startswith("no new line in the cart")
    shoes = state(cart=[cart_line("V-000003-2", 2)])
    r = status(intent, before=before, after=shoes)
    assert not r.done and r.reason == "V-000003-2 not in the electronics category"


# -- purchase --------------------------------------------------------------------------------


PURCHASE = Intent(kind="purchase", request="buy it", code="SAVE20", payment_kind="gift_card",
                  shipping_option="express",
                  items=[ItemGoal(match=ProductMatch(brand="Stride", options={"size": "10"}),
                                  quantity=1, label="shoes")])


def test_purchase_done() -> None:
    after = state(orders=[order(1001, [("V-000003-2", 1, 7000)], code="SAVE20",
                                shipping="express",
                                payments=[("PM-2", "gift_card", 5000), ("PM-1", "card", 2000)])])
    r = status(PURCHASE, after=after)
    assert r.done and r.effects == ["O-1001"]


def test_purchase_failures_are_each_named() -> None:
    after = state(orders=[order(1001, [("V-000003-2", 1, 7000), ("V-000004-1", 1, 2500)],
                                code=None, shipping="standard")])
    r = status(PURCHASE, after=after)
    assert not r.done
    assert "other lines in O-1001: V-000004-1" in r.reason
    assert "O-1001 has code none, not SAVE20" in r.reason
    assert "no charge to a gift_card in O-1001 (charged: card)" in r.reason
    assert "O-1001 ships standard, not express" in r.reason
    assert 0 < r.progress < 1


def test_purchase_needs_exactly_one_new_order_and_counts_the_cart() -> None:
    old = state(orders=[order(1001, [("V-000003-2", 1, 7000)], status="delivered")])
    r = status(PURCHASE, before=old, after=old)
    assert not r.done and r.reason == "no new order"
    carted = old.model_copy(update={"cart": [cart_line("V-000003-2")], "cart_code": "SAVE20"})
    assert status(PURCHASE, before=old, after=carted).progress > r.progress
    two = state(orders=[order(1001, [("V-000003-2", 1, 7000)], code="SAVE20",
                              shipping="express", payments=[("PM-2", "gift_card", 7000)]),
                        order(1002, [("V-000003-2", 1, 7000)])])
    r = status(PURCHASE, after=two)
    assert not r.done and "2 orders were placed, not one: O-1001, O-1002" in r.reason


def test_purchase_judges_the_price_paid() -> None:
    intent = Intent(kind="purchase", request="x", items=[
        ItemGoal(match=ProductMatch(brand="Stride", max_price_cents=7000))])
    paid_more = state(orders=[order(1001, [("V-000003-2", 1, 7100)])])
    r = status(intent, after=paid_more)
    assert not r.done and "price $71.00 is over the $70.00 budget" in r.reason


# -- returns, exchanges, cancellations --------------------------------------------------------


LOOKED = [call("get_order", {"order_id": "O-1001"})]
DELIVERED = state(orders=[order(1001, [("V-000003-2", 2, 7000), ("V-000004-1", 1, 2500)],
                                status="delivered")])


def test_return_proceed() -> None:
    intent = Intent(kind="return", request="x", order_id="O-1001", lines=[("V-000003-2", 1)],
                    reason="wrong_size")
    ret = ReturnState(return_id="R-1", order_id="O-1001", reason="wrong_size",
                      refund_to="original", lines=[("V-000003-2", 1)])
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(update={"returns": [ret]}))
    assert r.done and r.effects == ["R-1"]
    r = status(intent, before=DELIVERED, after=DELIVERED)
    assert not r.done and r.reason == "no new return on O-1001" and r.progress == 0
    wrong = ret.model_copy(update={"reason": "changed_mind", "lines": [("V-000003-2", 2)]})
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(update={"returns": [wrong]}))
    assert not r.done
    assert r.reason == ("R-1 covers V-000003-2 x2, not V-000003-2 x1; "
                        "R-1 reason is changed_mind, not wrong_size")


def test_return_not_proceeding_needs_no_return_and_an_answer() -> None:
    intent = Intent(kind="return", request="x", order_id="O-1001", proceed=False,
                    facts=[FactGoal(fact="cannot_return", about=["O-1001"], value="final_sale")])
    said = [*LOOKED, told(("cannot_return", "O-1001", "final_sale"))]
    assert status(intent, before=DELIVERED, after=DELIVERED, trace=said).done
    r = status(intent, before=DELIVERED, after=DELIVERED, messages=[user("x"), say("Sure!")],
               trace=LOOKED)
    assert not r.done and r.reasons[0].code == "no_answer"
    ret = ReturnState(return_id="R-1", order_id="O-1001", reason="other", refund_to="original",
                      lines=[("V-000003-2", 1)])
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(update={"returns": [ret]}),
               trace=said)
    assert not r.done and r.reason == "return R-1 was made though it should not be"


def test_exchange() -> None:
    intent = Intent(kind="exchange", request="x", order_id="O-1001",
                    lines=[("V-000003-2", 1)], new_options={"size": "9"}, reason="wrong_size")
    x = ExchangeState(exchange_id="X-1", order_id="O-1001", from_variant_id="V-000003-2",
                      to_variant_id="V-000003-1", quantity=1, reason="wrong_size")
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(update={"exchanges": [x]}))
    assert r.done and r.effects == ["X-1"]
    wrong = x.model_copy(update={"to_variant_id": "V-000003-3", "quantity": 2})
    r = status(intent, before=DELIVERED,
               after=DELIVERED.model_copy(update={"exchanges": [wrong]}))
    assert not r.done
    assert r.reason == "X-1 quantity is 2, not 1; V-000003-3 size is 11, not 9"
    r = status(intent, before=DELIVERED, after=DELIVERED)
    assert not r.done and r.reason == "no new exchange on O-1001"
    refuse = intent.model_copy(update={"proceed": False, "facts": [
        FactGoal(fact="cannot_exchange", about=["O-1001"], value="window_closed")]})
    assert status(refuse, before=DELIVERED, after=DELIVERED, trace=[
        *LOOKED, told(("cannot_exchange", "O-1001", "window_closed"))]).done
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(
        update={"exchanges": [x.model_copy(update={"reason": "other"})]}))
    assert not r.done and r.reason == "X-1 reason is other, not wrong_size"


def test_cancel() -> None:
    pending = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="pending")])
    cancelled = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="cancelled")
                              .model_copy(update={"cancel_reason": "no_longer_needed"})])
    intent = Intent(kind="cancel", request="x", order_id="O-1001", reason="no_longer_needed")
    assert status(intent, before=pending, after=cancelled).done
    r = status(intent, before=pending, after=pending)
    assert not r.done and r.reason == "order O-1001 is pending, not cancelled"
    r = status(intent.model_copy(update={"order_id": "O-9999"}), before=pending, after=pending)
    assert not r.done and r.reason == "order O-9999 not found"
    refuse = intent.model_copy(update={"proceed": False, "facts": [
        FactGoal(fact="cannot_cancel", about=["O-1001"], value="already_shipped")]})
    shipped = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="shipped")])
    listed = [call("list_orders"), told(("cannot_cancel", "O-1001", "already_shipped"))]
    assert status(refuse, before=shipped, after=shipped, trace=listed).done
    assert not status(refuse, before=pending, after=cancelled, trace=listed).done
    # the reason given with the cancellation is the shopper's
    other = cancelled.model_copy(update={"orders": [
        cancelled.orders[0].model_copy(update={"cancel_reason": "other"})]})
    r = status(intent, before=pending, after=other)
    assert not r.done and r.reasons[0].code == "wrong_reason"


def test_answers_about_an_order_need_the_order_looked_up() -> None:
    """Stuffing a message with likely words is not an answer: the agent must have read the
    order (get_order, check_return_eligibility or list_orders)."""
    refuse = Intent(kind="cancel", request="x", order_id="O-1001", proceed=False,
                    facts=[FactGoal(fact="cannot_cancel", about=["O-1001"],
                                    value="already_shipped")])
    shipped = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="shipped")])
    said = told(("cannot_cancel", "O-1001", "already_shipped"), seq=5)
    r = status(refuse, before=shipped, after=shipped, trace=[said])
    assert not r.done and r.reasons[0].code == "not_looked_up"
    assert "O-1001 was never looked up" in r.reason
    other = [call("get_order", {"order_id": "O-1002"}), said]
    assert not status(refuse, before=shipped, after=shipped, trace=other).done
    failed = [call("get_order", {"order_id": "O-1001"}, ok=False), said]
    assert not status(refuse, before=shipped, after=shipped, trace=failed).done
    assert status(refuse, before=shipped, after=shipped, trace=[*LOOKED, said]).done


# -- informational ---------------------------------------------------------------------------


def test_order_status_needs_every_fact_over_the_conversation() -> None:
    intent = Intent(kind="order_status", request="where is O-1001", order_id="O-1001",
                    facts=[FactGoal(fact="order_status", about=["O-1001"], value="shipped"),
                           FactGoal(fact="tracking_number", about=["O-1001"], value="1Z123")])
    first = [*LOOKED, told(("order_status", "O-1001", "shipped"))]
    r = status(intent, trace=first)
    assert not r.done and r.progress == 0.5
    assert [x.code for x in r.reasons] == ["no_answer"]
    # facts told in different turns add up; texts (any case) compare in any case
    later = [*first, told(("tracking_number", "O-1001", "1z123"), turn=2)]
    assert status(intent, trace=later).done


def test_policy_answers_count_from_since_turn() -> None:
    intent = Intent(kind="policy", request="return window?",
                    facts=[FactGoal(fact="return_window_days", about=["toys"], value=30)])
    searched = [call("search_policy", {"query": "returns"}),
                told(("return_window_days", "toys", 30))]
    assert status(intent, trace=searched).done
    assert not status(intent, trace=searched, since_turn=2).done
    msgs = [user("q"), say("30 days"), user("and now?"), say("I don't know")]
    assert assistant_texts(msgs, since_turn=2) == ["I don't know"]


# -- reward holes: stuffed answers, answers before a look-up, presentations over the cap -----

DAYS_30 = ["30 days", "30-day", "thirty days"]
SEARCHED = [call("search_policy", {"query": "returns"})]


def test_policy_answers_need_a_policy_search_first() -> None:
    intent = Intent(kind="policy", request="return window?",
                    facts=[FactGoal(fact="return_window_days", about=["toys"], value=30)])
    said = told(("return_window_days", "toys", 30), seq=9)
    r = status(intent, trace=[said])
    assert not r.done and r.reasons[0].code == "not_looked_up"
    assert r.progress == 0.5
    failed = [call("search_policy", {"query": "x"}, ok=False), said]
    assert not status(intent, trace=failed).done
    assert status(intent, trace=[*SEARCHED, said]).done
    # a search after the answer does not ground it; stating it again after the search does
    late = [said, call("search_policy", {"query": "x"}, turn=2)]
    assert not status(intent, trace=late).done
    again = told(("return_window_days", "toys", 30), turn=2, seq=10)
    assert status(intent, trace=[*late, again]).done


def test_presentation_cap_holds_per_turn() -> None:
    intent = Intent(kind="discovery", request="x", accept=BUDGET)
    chunks = [presented(["P-000002", "P-000003", "P-000004"], seq=0),
              presented(["P-000005", "P-000006", "P-000001"], seq=1)]
    r = status(intent, trace=chunks)
    assert not r.done and "too many" in r.reason
    assert presented_products(chunks) == ([], 1)
    # the same products shown twice are still at most 5 distinct
    again = [presented(["P-000002", "P-000001"], seq=0), presented(["P-000001"], seq=1)]
    assert status(intent, trace=again).done
    # a crowded turn does not spoil the next one
    later = [*chunks, presented(["P-000001"], turn=2, seq=2)]
    assert presented_products(later) == ([("P-000001", 1)], 1)
    assert status(intent, trace=later).done


def test_every_unmet_requirement_has_a_code_of_its_own() -> None:
    """Reports file failures by code: no intent failure falls back to the generic one."""
    pending = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="pending")])
    cases = [
        (Intent(kind="discovery", request="x", accept=ProductMatch(brand="Nobody")), {}),
        (Intent(kind="purchase", request="x", items=[ItemGoal(match=ProductMatch())]), {}),
        (Intent(kind="return", request="x", order_id="O-1001", lines=[("V-000003-2", 1)]),
         {"before": DELIVERED, "after": DELIVERED}),
        (Intent(kind="exchange", request="x", order_id="O-1001"),
         {"before": DELIVERED, "after": DELIVERED}),
        (Intent(kind="cancel", request="x", order_id="O-1001"),
         {"before": pending, "after": pending}),
        (Intent(kind="order_status", request="x", order_id="O-1001", facts=[
            FactGoal(fact="order_status", about=["O-1001"], value="pending")]), {}),
    ]
    for intent, kw in cases:
        r = status(intent, trace=[presented(["P-000001"])], **kw)
        assert not r.done and r.reasons, intent.kind
        assert all(x.code != "intent_unmet" for x in r.reasons), (intent.kind, r.reasons)
