"""Cart and checkout: named products into the cart (options asked once, quantities changed),
substitutes for what cannot be had, code, payment, shipping and the order.
"""

from __future__ import annotations

import re
from typing import Any

from episodes.agents.heuristic.conversation import Step
from episodes.agents.heuristic.discovery import _Discovery
from episodes.agents.heuristic.naming import _Item
from episodes.agents.heuristic.products import (
    _Crit,
    _has_options,
    _in_stock,
    _learn_rejection,
    _misses,
    _title_score,
    _variant_for,
)
from episodes.agents.heuristic.reading import _REJECTED, _agrees, _money
from episodes.agents.heuristic.vocab import _builtin_only, _query_words


class _Cart(_Discovery):
    """Named items, the cart and checkout."""

    def _named_items(self) -> Step:
        request = self.segment[0]
        low = request.lower()
        cart = (yield from self._call("view_cart")) if self.style.read_cart_first else None
        removes: list[_Item] = []
        for m in re.finditer(r"take the (.+?) out of my cart", request, re.I):
            got = yield from self._items(m.group(1))
            removes += got
        bump_text = re.search(r"i already have one of the (.+?) in my cart, make it (\d+)",
                              request, re.I)
        body = re.sub(r"(?i)and please take the .+? out of my cart\.?", "", request)
        body = re.sub(r"(?i)i already have one of the .+? in my cart, make it \d+\.?", "", body)
        items = yield from self._items(body)
        if bump_text:
            bumped = yield from self._items(bump_text.group(1))
            for b in bumped:
                b.quantity = int(bump_text.group(2))
            items += bumped
        items = [i for i in items if i.view is not None]
        if not items and not removes and _builtin_only():  # brands unknown: another catalog?
            yield from self._call("search_products", query=_query_words(body), page_size=10)
            if not _builtin_only():
                items = [i for i in (yield from self._items(body)) if i.view is not None]
        if not items and not removes:
            yield from self._discover(compare=False)
            return
        purchase = bool(re.search(r"i'd like to order|check ?out|\bpurchase\b|\bcode\b|"
                                  r"shipping|\bpay\b|paypal|gift card|on my card", low))
        # substitution: the named product cannot be had as asked
        if len(items) == 1 and not removes:
            item = items[0]
            assert item.view is not None
            if _variant_for(item.view, item.options, quantity=item.quantity) is None and (
                    not purchase or not _in_stock(item.view)
                    or re.search(r"i'd like to buy", low)):
                yield from self._substitute(item)
                return
        # options not named: ask (once) when a product has a choice
        missing = sorted({k for i in items if i.view is not None
                          for k in i.view.get("option_names", []) if k not in i.options
                          and len({str(x["options"].get(k)) for x in i.view["variants"]}) > 1})
        extra_q = ""
        if purchase:
            wants = self._checkout_slots()
            gaps = [n for n, x in (("code", wants["code"]), ("payment", wants["payment"]),
                                   ("shipping", wants["shipping"])) if x is None]
            if gaps:
                extra_q = (" Also, do you have a discount code, how would you like to pay "
                           "(card, PayPal or gift card), and which shipping do you want "
                           "(standard, express or next-day)?")
        if missing or extra_q:
            names = " and ".join("colour" if k == "color" else k.replace("_", " ")
                                 for k in missing)
            q = (f"Which {names} would you like?" if missing else "Got it.") + extra_q
            yield from self._ask_once("options", q)
            for item in items:
                assert item.view is not None
                for text in self.segment[1:]:
                    item.options.update(self._options_in(text, item.view))
        while True:
            self._requantify(items)
            ok, cart = yield from self._reconcile(items, removes, cart)
            if not purchase:
                summary = self._summary(cart)
                reply = yield from self._say(f"Your cart now has {summary}.")
                if not re.search(r"\bactually\b|make it", reply.lower()):
                    return
                continue
            done = yield from self._checkout(items, cart)
            if done:
                return

    def _requantify(self, items: list[_Item]) -> None:
        for text in self.segment[1:]:
            for m in re.finditer(r"make it (\d+) of the (.+?)(?:\.(?:\s|$)|$)", text, re.I):
                best = max(items, key=lambda i: _title_score(
                    i.view["title"] if i.view else "", m.group(2)))
                best.quantity = int(m.group(1))

    def _reconcile(self, items: list[_Item], removes: list[_Item], cart: Any) -> Step:
        """Bring the cart to the wanted lines; returns (all there, cart)."""
        lines = {ln["variant_id"]: ln["quantity"] for ln in (cart or {}).get("lines", [])}
        ok = True
        for r in removes:
            if r.view is None:
                continue
            for vid in [x["variant_id"] for x in r.view["variants"]]:
                if vid in lines:
                    cart = (yield from self._call("remove_from_cart", variant_id=vid)) or cart
                    lines.pop(vid, None)
        for item in items:
            assert item.view is not None
            have = [x for x in item.view["variants"] if x["variant_id"] in lines]
            chosen = next((x for x in have if _has_options(x, item.options)), None)
            if chosen is None:
                chosen = _variant_for(item.view, item.options, quantity=item.quantity)
            if chosen is None:
                ok = False
                continue
            item.variant = chosen
            vid = chosen["variant_id"]
            if lines.get(vid) == item.quantity:
                continue
            if vid in lines:
                res = yield from self._call("update_cart_item", variant_id=vid,
                                            quantity=item.quantity)
            else:
                res = yield from self._call("add_to_cart", variant_id=vid,
                                            quantity=item.quantity)
            if res is None:
                ok = False
            else:
                cart = res
                lines = {ln["variant_id"]: ln["quantity"] for ln in cart.get("lines", [])}
        return ok, cart

    def _summary(self, cart: Any) -> str:
        lines = (cart or {}).get("lines", [])
        if not lines:
            return "nothing in it"
        parts = [f"{ln['quantity']} x {ln['title']}"
                 + (f" ({', '.join(str(x) for x in ln['options'].values())})"
                    if ln.get("options") else "") for ln in lines]
        total = (cart or {}).get("subtotal_cents", 0)
        return ", ".join(parts) + f" ({_money(total)} before shipping)"

    def _checkout_slots(self) -> dict[str, str | None]:
        text = self.said
        low = text.lower()
        code = None
        for m in re.finditer(r"\b(?:code|coupon)\s+([A-Z0-9_-]{3,32})\b", text, re.I):
            code = m.group(1).upper()
        payment = None
        for m in re.finditer(r"gift card|paypal|\bcard\b(?! for the rest)", low):
            payment = {"gift card": "gift_card", "paypal": "paypal"}.get(m.group(0), "card")
        shipping = None
        for m in re.finditer(r"next[- ]day|overnight|express|standard", low):
            shipping = {"express": "express", "standard": "standard"}.get(m.group(0),
                                                                           "next_day")
        return {"code": code, "payment": payment, "shipping": shipping}

    def _checkout(self, items: list[_Item], cart: Any) -> Step:
        """Code, payment, confirmation and checkout; returns True once the order is placed."""
        wants = self._checkout_slots()
        code = wants["code"]
        first = self.style.customer_first  # the payment methods read before the code
        customer = (yield from self._call("get_customer")) if first else None
        if code and str(((cart or {}).get("code") or {}).get("code", "")).upper() != code:
            res = yield from self._call("apply_discount_code", code=code)
            if res is not None:
                cart = res
        if not first:
            customer = yield from self._call("get_customer")
        if self.style.recheck_cart:
            cart = (yield from self._call("view_cart")) or cart
        methods = (customer or {}).get("payment_methods", [])
        kind = wants["payment"]
        pick = next((m for m in methods if m["kind"] == kind), None) if kind else None
        cards = [m for m in methods if m["kind"] == "card"]
        default = next((m for m in methods if m.get("is_default")), methods[0] if methods
                       else None)
        pick = pick or (cards[0] if cards else default)
        if pick is None:
            yield from self._say("I couldn't find a payment method on your account.")
            return True
        second = None
        if pick["kind"] == "gift_card":
            second = next((m for m in methods if m["kind"] in ("card", "paypal")), None)
        ship = wants["shipping"] or "standard"
        ship_name = {"next_day": "next-day"}.get(ship, ship)
        pay_text = pick["label"] + (f" and {second['label']} for the rest" if second else "")
        with_code = f" with code {code}" if code else ""
        reply = yield from self._say(
            f"Your cart has {self._summary(cart)}{with_code}. Shall I place the order with "
            f"{pay_text} and {ship_name} shipping?")
        low = reply.lower()
        if not _agrees(reply):
            if "actually" in low or "not yet" in low or "make it" in low:
                return False
            return False
        args: dict[str, Any] = {"payment_method_id": pick["payment_method_id"],
                                "shipping_option": ship}
        if second is not None:
            args["second_payment_method_id"] = second["payment_method_id"]
        order = yield from self._call("checkout", **args)
        if order is None:
            yield from self._say(f"Sorry, the checkout failed: {self.last_error}")
            return True
        yield from self._say(f"Done — your order {order['order_id']} is placed, total "
                             f"{_money(order['total_cents'])}.")
        return True

    def _substitute(self, item: _Item) -> Step:
        """The named product is out of stock: find, show and add a similar one."""
        assert item.view is not None
        ref = item.view
        base = _Crit(category=ref["category_slug"], exclude={ref["product_id"]})
        yield from self._ask_once("details", (
            f"Sorry, the {ref['title']} is out of stock as you want it. I can find a similar "
            "one: what's your budget per item, and any size or must-have features?"))
        crit = self._criteria(base)
        sim = yield from self._call("find_similar", product_id=ref["product_id"], limit=10,
                                    **({"max_price_cents": crit.budget} if crit.budget else {}))
        ids = [h["product_id"] for h in (sim or {}).get("hits", [])][:4]
        fresh = [p for p in ids if p not in self.views]
        if fresh:
            yield from self._calls(*[("get_product", {"product_id": p}) for p in fresh])
        accepted = None
        learned_options: dict[str, str] = {}
        for _ in range(3):
            crit = self._criteria(base)
            crit.options.update(item.options)
            crit.options.update(learned_options)
            ranks = self._ranks(len(ids))
            ranked = sorted(((_misses(self.views[p], crit, each=True), ranks[k], p)
                             for k, p in enumerate(ids) if p in self.views
                             and p not in base.exclude))
            found = yield from self._search(crit, each=True)
            seen = {p for _, _, p in ranked}
            ranked += [(m, 100 + k, x["product_id"]) for k, (m, x) in enumerate(found)
                       if x["product_id"] not in seen]
            ranked.sort()
            show = self.style.show
            good = [self.views[p] for m, _, p in ranked if m == 0][:show]
            if not good:
                good = [self.views[p] for _, _, p in ranked[:min(2, show)]]
            if not good:
                break
            accepted, reply = yield from self._present(good, "Similar options in stock:")
            if accepted is not None:
                break
            base.exclude |= {x["product_id"] for x in good}
            rej = _REJECTED.search(reply)
            if rej:
                probe = _Crit(options=dict(learned_options))
                _learn_rejection(probe, rej.group(1))
                learned_options = probe.options
        if accepted is None:
            return
        crit = self._criteria(base)
        options = {**item.options, **learned_options, **crit.options}
        options = {k: x for k, x in options.items() if k in accepted.get("option_names", [])}
        variant = _variant_for(accepted, options, quantity=item.quantity, budget=crit.budget)
        if variant is None:
            variant = _variant_for(accepted, {}, quantity=item.quantity, budget=crit.budget)
        if variant is None:
            yield from self._say("Sorry, that one doesn't have enough stock.")
            return
        res = yield from self._call("add_to_cart", variant_id=variant["variant_id"],
                                    quantity=item.quantity)
        if res is None:
            yield from self._say(f"Sorry, I couldn't add it: {self.last_error}")
            return
        yield from self._say(f"I've added {item.quantity} x {accepted['title']} to your cart.")
