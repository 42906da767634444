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
    user,
)
from verifiers.answers import (
    ANSWER_NOISE_LIMIT,
    ANSWER_NOISE_LIMITS,
    answer_progress,
    answer_values,
    stray_values,
)
from verifiers.evidence import assistant_texts, presented_products
from verifiers.intents import intent_status
from verifiers.types import (
    ExchangeState,
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
                    answers=[["final sale", "cannot be returned"]])
    told = [user("return it"), say("Sorry, that item is final sale.")]
    assert status(intent, before=DELIVERED, after=DELIVERED, messages=told, trace=LOOKED).done
    r = status(intent, before=DELIVERED, after=DELIVERED, messages=[user("x"), say("Sure!")],
               trace=LOOKED)
    assert not r.done and r.reason == 'no answer mentions "final sale" / "cannot be returned"'
    ret = ReturnState(return_id="R-1", order_id="O-1001", reason="other", refund_to="original",
                      lines=[("V-000003-2", 1)])
    r = status(intent, before=DELIVERED, after=DELIVERED.model_copy(update={"returns": [ret]}),
               messages=told, trace=LOOKED)
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
    refuse = intent.model_copy(update={"proceed": False, "answers": [["30 days"]]})
    assert status(refuse, before=DELIVERED, after=DELIVERED, trace=LOOKED,
                  messages=[user("x"), say("The window is 30 days and it has passed.")]).done


def test_cancel() -> None:
    pending = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="pending")])
    cancelled = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="cancelled")])
    intent = Intent(kind="cancel", request="x", order_id="O-1001", reason="no_longer_needed")
    assert status(intent, before=pending, after=cancelled).done
    r = status(intent, before=pending, after=pending)
    assert not r.done and r.reason == "order O-1001 is pending, not cancelled"
    r = status(intent.model_copy(update={"order_id": "O-9999"}), before=pending, after=pending)
    assert not r.done and r.reason == "order O-9999 not found"
    refuse = intent.model_copy(update={"proceed": False, "answers": [["already shipped"]]})
    shipped = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="shipped")])
    msgs = [user("cancel"), say("It has already shipped, so it can't be cancelled.")]
    listed = [call("list_orders")]
    assert status(refuse, before=shipped, after=shipped, messages=msgs, trace=listed).done
    assert not status(refuse, before=pending, after=cancelled, messages=msgs, trace=listed).done


def test_answers_about_an_order_need_the_order_looked_up() -> None:
    """Stuffing a message with likely words is not an answer: the agent must have read the
    order (get_order, check_return_eligibility or list_orders)."""
    refuse = Intent(kind="cancel", request="x", order_id="O-1001", proceed=False,
                    answers=[["shipped"]])
    shipped = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="shipped")])
    msgs = [user("cancel"), say("All done, it has shipped and your refund is on its way.")]
    r = status(refuse, before=shipped, after=shipped, messages=msgs)
    assert not r.done and r.reason == "O-1001 was never looked up"
    other = [call("get_order", {"order_id": "O-1002"})]
    assert not status(refuse, before=shipped, after=shipped, messages=msgs, trace=other).done
    failed = [call("get_order", {"order_id": "O-1001"}, ok=False)]
    assert not status(refuse, before=shipped, after=shipped, messages=msgs, trace=failed).done
    assert status(refuse, before=shipped, after=shipped, messages=msgs, trace=LOOKED).done


# -- informational ---------------------------------------------------------------------------


def test_order_status_needs_every_group_in_one_message() -> None:
    intent = Intent(kind="order_status", request="where is O-1001", order_id="O-1001",
                    answers=[["shipped", "in transit"], ["1Z123"]])
    msgs = [user("where?"), say("It has shipped."), user("tracking?"), say("Tracking: 1Z123")]
    r = status(intent, messages=msgs, trace=LOOKED)
    # half the answer groups, and the order was looked up
    assert not r.done and r.progress == 0.75
    assert r.reason == 'no answer mentions "1Z123"'
    msgs.append(say("Your order is IN TRANSIT, tracking number 1z123."))
    assert status(intent, messages=msgs, trace=LOOKED).done


def test_policy_answers_count_from_since_turn() -> None:
    intent = Intent(kind="policy", request="return window?", answers=[["30 days"]])
    msgs = [user("q"), say("30 days"), user("and now?"), say("I don't know")]
    searched = [call("search_policy", {"query": "returns"})]
    assert status(intent, messages=msgs, trace=searched).done
    assert not status(intent, messages=msgs, trace=searched, since_turn=2).done
    assert assistant_texts(msgs, since_turn=2) == ["I don't know"]


# -- reward holes: stuffed answers, answers before a look-up, presentations over the cap -----

DAYS_30 = ["30 days", "30-day", "thirty days"]
SEARCHED = [call("search_policy", {"query": "returns"})]


def test_answer_values_read_every_way_of_writing_a_value() -> None:
    assert answer_values("within 30 days, a 14-day window or fifteen days") == {
        ("day counts", "30"), ("day counts", "14"), ("day counts", "15")}
    assert answer_values("$4.99, 14.99, $50 or fifty dollars") == {
        ("dollar amounts", "499"), ("dollar amounts", "1499"), ("dollar amounts", "5000")}
    assert answer_values("a 12-month, 2 years or half a year; 10% or 15 percent; 2 hours") == {
        ("month counts", "12"), ("month counts", "24"), ("month counts", "6"),
        ("percentages", "10"), ("percentages", "15"), ("hour counts", "2")}
    # negated status words are not claims
    assert answer_values("It is processing and hasn't shipped yet.") == {
        ("order statuses", "processing")}


def test_a_number_in_an_answer_is_not_part_of_a_longer_one() -> None:
    assert answer_progress([["5 days"]], ["it arrives within 15 days"])[0] is False
    assert answer_progress([["$5"]], ["it costs $5.99"])[0] is False
    assert answer_progress([["5 days"]], ["it arrives within 5 days."])[0] is True
    assert answer_progress([["14.99"]], ["it costs $14.99"])[0] is True
    assert answer_progress([["shipped"]], ["it has not shipped yet"])[0] is False


def test_stuffed_answers_are_buried_among_contradicting_values() -> None:
    stuffed = "Returns within 14 days, 15 days, 30 days or 60 days."
    ok, frac, why = answer_progress([DAYS_30], [stuffed])
    assert not ok and frac == 0.0
    assert why == "the answer is buried among 3 other day counts (14 days, 15 days, 60 days)"
    # up to ANSWER_NOISE_LIMIT other values of a kind is context, not stuffing
    assert ANSWER_NOISE_LIMIT == 2
    assert answer_progress([DAYS_30], ["30 days here; beauty has 14 days, electronics 15 "
                                       "days, and there is a 15% fee"])[0]
    # an order is in one status: no other may be claimed, however it is worded; negated
    # statuses and ones that are not the current one do not count
    status = [["shipped", "on its way"]]
    assert ANSWER_NOISE_LIMITS["order statuses"] == 0
    assert answer_progress(status, ["It has shipped and should be delivered Friday."])[0]
    assert answer_progress(status, ["It shipped: it is not pending or processing any more; "
                                    "once it is delivered you can return it."])[0]
    assert not answer_progress(status, ["It is processing or shipped."])[0]
    assert not answer_progress(status, ["It's being prepared or on its way."])[0]
    assert stray_values(status, "pending, processing, shipped, it has arrived") == {
        "order statuses": ["delivered", "pending", "processing"]}
    # a message that is only noise loses to a specific one
    assert answer_progress([DAYS_30], [stuffed, "You have 30 days."])[0]


def test_policy_answers_need_a_policy_search_first() -> None:
    intent = Intent(kind="policy", request="return window?", answers=[DAYS_30])
    msgs = [user("q"), say("You have 30 days.")]
    r = status(intent, messages=msgs)
    assert not r.done and r.reason == "the policies were never looked up"
    assert r.progress == 0.5
    failed = [call("search_policy", {"query": "x"}, ok=False)]
    assert not status(intent, messages=msgs, trace=failed).done
    assert status(intent, messages=msgs, trace=SEARCHED).done
    # a search after the answer does not ground it
    late = [call("search_policy", {"query": "x"}, turn=2)]
    two = [*msgs, user("sure?"), say("Let me check.")]
    r = status(intent, messages=two, trace=late)
    assert not r.done and r.reason.endswith("were not looked up before the answer")
    assert status(intent, messages=[*two, say("Yes: 30 days.")], trace=late).done


def test_stuffed_policy_and_refusal_answers_fail() -> None:
    stuffed = ("Returns within 14 days, 15 days, 30 days or 60 days; final sale and clearance "
               "can't be returned; fees of 10%, 15% or 20%; warranty 6 months, 12 months or 24 "
               "months.")
    msgs = [user("q"), say(stuffed)]
    policy = Intent(kind="policy", request="q", answers=[DAYS_30])
    assert "buried" in status(policy, messages=msgs, trace=SEARCHED).reason
    refuse = Intent(kind="return", request="x", order_id="O-1001", proceed=False,
                    answers=[["final sale", "non-returnable"]])
    r = status(refuse, messages=msgs, trace=LOOKED)
    assert not r.done and "buried among 4 other day counts" in r.reason
    # the gold-like explanation passes
    msgs = [user("q"), say("Sorry, that was a clearance item sold as final sale.")]
    assert status(refuse, messages=msgs, trace=LOOKED).done


def test_refused_cancellation_may_say_cancelled_and_pending() -> None:
    refuse = Intent(kind="cancel", request="x", order_id="O-1001", proceed=False,
                    answers=[["shipped"], ["return"]])
    shipped = state(orders=[order(1001, [("V-000004-1", 1, 2500)], status="shipped")])
    gold = ("Order O-1001 has already shipped, so it can no longer be cancelled: only pending "
            "orders can be. Once it is delivered you can return it.")
    stuffed = "It's already processing or shipped, so it can't be cancelled; return it once " \
              "delivered."
    for text, done in ((gold, True), (stuffed, False)):
        r = status(refuse, before=shipped, after=shipped, messages=[user("c"), say(text)],
                   trace=LOOKED)
        assert r.done is done, r.reason


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
